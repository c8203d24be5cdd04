import Foundation

/// What a standby data directory says about itself: signal files and recovery settings.
struct StandbyState {
    let dataDir: String
    var configDir: String?

    init(dataDir: String, configDir: String? = nil) {
        self.dataDir = dataDir
        self.configDir = configDir
    }

    func has(_ name: String) -> Bool { access("\(dataDir)/\(name)", F_OK) == 0 }

    /// `standby.signal`, `recovery.signal`, `recovery.conf` (≤11) or none.
    var signal: String? {
        ["standby.signal", "recovery.signal", "recovery.conf"].first(where: has)
    }

    var signalDescription: String { signal.map { "\($0) present" } ?? "no standby.signal" }

    /// The recovery settings PostgreSQL reads, last value winning (the order it reads them).
    var settings: PostgresConf {
        var paths: [String] = []
        if let configDir, configDir != dataDir { paths.append("\(configDir)/postgresql.conf") }
        paths += ["postgresql.conf", "postgresql.auto.conf", "recovery.conf"].map {
            "\(dataDir)/\($0)"
        }
        let text = paths.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            .joined(separator: "\n")
        return PostgresConf.parse(text)
    }

    /// Passes when the data dir is a standby whose restore_command runs walmgr xrestore.
    func checkRecoverySettings(ini: String) -> CheckResult {
        let fix =
            "walmgr \(ini) restore writes them; or create \(dataDir)/standby.signal and set "
            + "restore_command = 'walmgr \(ini) xrestore %f %p %r' in postgresql.auto.conf"
        guard let signal else {
            return .fail(
                "recovery settings",
                "\(dataDir) has no standby.signal: it is not a standby "
                    + "(promoted by boot, or never restored)", fix: fix)
        }
        let command = settings.value("restore_command") ?? ""
        guard command.contains("xrestore") else {
            let shown = command.isEmpty ? "not set" : "'\(command)'"
            return .fail(
                "recovery settings", "\(signal) present but restore_command is \(shown)",
                fix: fix)
        }
        var detail = "\(signal); restore_command = \(command)"
        if let primary = settings.value("primary_conninfo"), !primary.isEmpty {
            detail += "; primary_conninfo = \(Conninfo.masked(primary))"
        }
        return .pass("recovery settings", detail)
    }
}
