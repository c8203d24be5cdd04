import Foundation

extension ConfigRestore {
    /// The config files PostgreSQL reads from a data dir.
    static let serverFiles = ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"]

    /// Where the restored server's config files come from (walmgr3's rule).
    enum Choice: Equatable {
        /// The old data dir's own files carry over: the standby keeps its port, pg_hba, ….
        case keepOwn(names: [String])
        /// config_backup's copies (the master's) go into `directory`; slave_config_dir is set.
        case masterCopies(directory: String, intoDataDir: Bool)
        /// A first restore without slave_config_dir: none of the master's files are used.
        case none
    }

    /// Chooses for a restore into `destination`: its own files win; else the master's copies
    /// when slave_config_dir is set (or DST is not the standby); else none. Decided before
    /// anything moves.
    static func choose(destination: String, config: SlaveConfig, isStandby: Bool) -> Choice {
        let intoData = !isStandby || config.slaveConfigDir == config.slaveData
        if intoData {
            let own = serverFiles.filter { isRegularFile("\(destination)/\($0)") }
            if !own.isEmpty { return .keepOwn(names: own) }
        }
        // walmgr3's rule is for the standby; a copy restored into another DST (to inspect or
        // start by hand) gets config_backup's files, as before, or it could not start.
        guard config.slaveConfigDirIsSet || !isStandby else { return .none }
        return .masterCopies(
            directory: intoData ? destination : config.slaveConfigDir, intoDataDir: intoData)
    }

    /// Puts the chosen files into the staged data dir (or slave_config_dir), and logs why.
    static func apply(
        _ choice: Choice, staging: String, destination: String, configBackup: String,
        record: String, log: Log
    ) throws {
        switch choice {
        case .keepOwn(let names):
            for name in names {
                let source = "\(destination)/\(name)"
                guard let bytes = FileManager.default.contents(atPath: source).map(Array.init)
                else { throw FileError("read", source) }
                try Durable.replace(bytes, at: "\(staging)/\(name)", mode: mode(of: source))
            }
            log.info(
                "kept the standby's own \(names.joined(separator: ", ")) from \(destination) "
                    + "(the backup's copies are the master's)")
        case .masterCopies(let directory, let intoDataDir):
            try run(
                from: configBackup, into: intoDataDir ? staging : directory,
                intoFreshDataDir: intoDataDir, record: record, log: log)
        case .none:
            let dropped = serverFiles.filter { unlink("\(staging)/\($0)") == 0 }
            let what =
                dropped.isEmpty ? "" : " (left out the backup's \(dropped.joined(separator: ", ")))"
            log.info(
                "first restore into \(destination) without slave_config_dir: the master's config "
                    + "files are not used\(what); the standby's start command supplies its own")
        }
    }
}
