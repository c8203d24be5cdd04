import Testing
import WalCore

@Suite("Config interpolation")
struct ConfigInterpolationTests {
    private let builtins = Interpolation.builtins(
        configFile: "/etc/walmgr/wal-master.ini", hostName: "db1")

    private func resolver(_ pairs: [(String, String)]) -> Interpolation {
        var entries: [String: INIEntry] = [:]
        for (index, (key, value)) in pairs.enumerated() {
            entries[key] = INIEntry(value: value, line: index + 2)
        }
        return Interpolation(fileName: "wal-master.ini", entries: entries, builtins: builtins)
    }

    @Test("nested references resolve, case-insensitively, and %% is a literal %")
    func nesting() throws {
        let r = resolver([
            ("root", "/srv"), ("walmgr_data", "%(ROOT)s/walmgr"),
            ("completed_wals", "%(walmgr_data)s/logs.complete"), ("pct", "50%% of %(root)s"),
        ])
        #expect(try r.value(of: "completed_wals") == "/srv/walmgr/logs.complete")
        #expect(try r.value(of: "pct") == "50% of /srv")
        #expect(try r.value(of: "nothing") == nil)
    }

    @Test("built-ins: job_name from the file name, service_name, host_name, config_dir/file")
    func builtinValues() throws {
        let r = resolver([
            ("logfile", "%(config_dir)s/%(job_name)s-%(host_name)s.log"),
            ("x", "%(service_name)s %(config_file)s"),
        ])
        #expect(try r.value(of: "logfile") == "/etc/walmgr/wal-master-db1.log")
        #expect(try r.value(of: "x") == "walmgr /etc/walmgr/wal-master.ini")
        #expect(try r.value(of: "job_name") == "wal-master")
        let odd = Interpolation.builtins(configFile: "/a.b.conf", hostName: "h")
        #expect(odd["job_name"] == "a.b")
        #expect(odd["config_dir"] == "/")
    }

    @Test("a file value overrides a built-in")
    func fileOverridesBuiltin() throws {
        let r = resolver([("job_name", "primary"), ("pidfile", "/run/%(job_name)s.pid")])
        #expect(try r.value(of: "pidfile") == "/run/primary.pid")
    }

    @Test("ten levels of nesting resolve; eleven are too deep and name the chain")
    func depthLimit() throws {
        let ten = (1...10).map { ("k\($0)", $0 == 10 ? "end" : "%(k\($0 + 1))s") }
        #expect(try resolver(ten).value(of: "k1") == "end")
        let eleven = (1...11).map { ("k\($0)", $0 == 11 ? "end" : "%(k\($0 + 1))s") }
        let error = #expect(throws: ConfigError.self) { try resolver(eleven).value(of: "k1") }
        guard case .interpolationTooDeep(_, let line, let chain) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(line == 2)
        #expect(chain.first == "k1" && chain.last == "k11")
        #expect(error?.description.contains("wal-master.ini:2:") == true)
        #expect(error?.description.contains("k1 -> k2") == true)
    }

    @Test("a cycle names both keys")
    func cycle() {
        let r = resolver([("a", "x%(b)s"), ("b", "%(a)s")])
        let error = #expect(throws: ConfigError.self) { try r.value(of: "a") }
        let expected = ConfigError.interpolationCycle(
            file: "wal-master.ini", line: 2, chain: ["a", "b", "a"])
        #expect(error == expected)
        let message = error?.description ?? ""
        #expect(message.contains("a -> b -> a"))
        #expect(message.contains("a and b refer to each other"))
    }

    @Test("a key referring to itself is a cycle")
    func selfCycle() {
        let error = #expect(throws: ConfigError.self) {
            try resolver([("a", "%(a)s")]).value(of: "a")
        }
        #expect(error?.description.contains("a refers to itself") == true)
    }

    @Test("an undefined reference names the referring key and the missing one")
    func undefined() {
        let r = resolver([("walmgr_data", "/w"), ("completed_wals", "%(wal_data)s/logs")])
        let error = #expect(throws: ConfigError.self) { try r.value(of: "completed_wals") }
        #expect(
            error
                == .undefinedReference(
                    file: "wal-master.ini", line: 3, key: "completed_wals",
                    reference: "wal_data"))
        let message = error?.description ?? ""
        #expect(message.contains("wal-master.ini:3: completed_wals refers to %(wal_data)s"))
        #expect(message.contains("define wal_data"))
    }

    @Test(
        "a lone % is an error naming the key and line",
        arguments: ["100%", "50% off", "%(name)x", "%(unclosed", "%s"])
    func lonePercent(value: String) {
        let r = resolver([("name", "v"), ("primary_conninfo", value)])
        let error = #expect(throws: ConfigError.self) { try r.value(of: "primary_conninfo") }
        #expect(error == .badPercent(file: "wal-master.ini", line: 3, key: "primary_conninfo"))
        #expect(error?.description.contains("write %% for a literal %") == true)
    }

    @Test("references(in:) lists names for the unknown-key check")
    func references() {
        #expect(Interpolation.references(in: "%(A)s/%%(b)s/%(c)s") == ["a", "c"])
    }
}
