import Testing

@testable import WalCore

/// Hosts taken from a config (`slave`, the host of a `host:path` value) are checked at load: a
/// value that ssh or rsync could read as an option, or a shell could split, never loads.
@Suite("Config hosts")
struct ConfigHostTests {
    private let base = """
        [walmgr]
        master_data = /pg
        slave_config = /etc/walmgr/wal-slave.ini
        """

    @Test(
        "a hostile slave is refused at load with file:line",
        arguments: [
            "-oProxyCommand=touch /tmp/x", "-oProxyCommand=touch:x", "a b", "x;touch y",
            "$(id)", "`id`", "db\u{1b}[2J", "[::1", "user@-x", "-l", "db|x", "db'x",
        ])
    func hostileSlave(value: String) {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(base + "\nslave = \(value)\n")
        }
        guard case .badHost(let file, let line, let key, _) = error else {
            Issue.record("expected badHost, got \(String(describing: error))")
            return
        }
        #expect(file == "wal-master.ini" && line == 4 && key == "slave")
        let message = error?.description ?? ""
        #expect(message.hasPrefix("wal-master.ini:4: slave names the ssh host "), "\(message)")
        #expect(message.contains("ssh options go in ssh_options"))
    }

    @Test(
        "a host:path with a bad host is refused at load with file:line",
        arguments: [
            ("walmgr_data", "-oProxyCommand=touch pwned:/w", "-oProxyCommand=touch pwned"),
            ("completed_wals", "a;b:/w", "a;b"),
            ("partial_wals", "db$(id):/w", "db$(id)"),
            ("full_backup", "us er@db:/w", "us er@db"),
            ("config_backup", "-x:/w", "-x"),
        ])
    func hostilePathHost(key: String, value: String, host: String) {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(base + "\n\(key) = \(value)\n")
        }
        #expect(error == .badHost(file: "wal-master.ini", line: 4, key: key, host: host))
        #expect(
            error?.description.hasPrefix(
                "wal-master.ini:4: \(key) names the ssh host \(host.debugDescription)") == true)
    }

    @Test("a bad host from --set names the override")
    func hostileOverride() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(base, overrides: ["slave=-oProxyCommand=id"])
        }
        #expect(error?.description.hasPrefix("wal-master.ini (--set): slave names") == true)
    }

    @Test(
        "host names, addresses and walmgr3's host:path load",
        arguments: [
            ("standby", "standby"), ("postgres@10.0.0.2", "postgres@10.0.0.2"),
            ("db-2.example.com", "db-2.example.com"), ("db_2", "db_2"), ("fe80::1", "fe80::1"),
            ("[fe80::1]", "[fe80::1]"), ("user@[::1]", "user@[::1]"),
            ("standby:/var/lib/walmgr", "standby"), ("localhost", "localhost"),
        ])
    func validSlave(value: String, host: String) throws {
        let master = try ConfigFixture.master(base + "\nslave = \(value)\n")
        #expect(master.slave == host, "walmgr3's host:/path means the host")
    }

    @Test("a host:path with a valid host loads, an IPv6 host in brackets too")
    func validPathHost() throws {
        let master = try ConfigFixture.master(base + "\nwalmgr_data = postgres@[::1]:/w\n")
        #expect(
            Location(master.common.completedWals)
                == .remote(host: "postgres@::1", path: "/w/logs.complete"))
        let slave = try ConfigFixture.slave("[walmgr]\nslave_data = /pg\nwalmgr_data = /a:b/w\n")
        #expect(slave.common.walmgrData == "/a:b/w")
    }
}
