import Foundation

/// Writes rendered ``RecoverySettings`` into a data directory.
enum RecoveryWriter {
    /// Files that must not survive from the backup (a restore decides anew).
    static let staleFiles = [
        "standby.signal", "recovery.signal", "recovery.conf", "recovery.done", "postmaster.pid",
        "postmaster.opts", Boot.triggerFileName,
    ]

    /// Writes standby.signal + postgresql.auto.conf (12+) or recovery.conf (≤11).
    static func write(_ settings: RecoverySettings, into dataDir: String, log: Log) throws {
        for name in staleFiles { try StandbyFiles.remove("\(dataDir)/\(name)") }
        switch settings.output {
        case .autoConf(let signal, let list):
            let path = "\(dataDir)/postgresql.auto.conf"
            let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            try Durable.replace(Array(settings.apply(to: old).utf8), at: path, mode: 0o600)
            try Durable.replace([], at: "\(dataDir)/\(signal)", mode: 0o600)
            log.info(
                "wrote \(signal) and set \(list.map(\.name).joined(separator: ", ")) in \(path)")
        case .recoveryConf(let text):
            let path = "\(dataDir)/recovery.conf"
            try Durable.replace(Array(text.utf8), at: path, mode: 0o600)
            log.info("wrote \(path)")
        }
    }
}
