/// A standby command (restore, xrestore, boot, pause, continue, cleanup) failed.
public enum StandbyError: WalmgrError {
    /// An archived file is not a whole WAL segment; PostgreSQL never sees it.
    case badSegment(path: String, reason: String)
    /// The standby still runs after the stop command; nothing was changed.
    case stillRunning(pid: Int32, dataDir: String, stopCommand: String)
    /// No complete backup exists under full_backup.
    case noBackup(fullBackup: String, inProgress: Bool)
    /// The named backup set does not exist (or is not complete).
    case unknownBackup(name: String, available: [String])
    /// The start command failed or the server did not come up.
    case startFailed(command: String, reason: String, logTail: String)
    /// The standby cannot be reached over SQL.
    case unreachable(dataDir: String, detail: String)
    /// Promotion did not finish in time.
    case promoteTimedOut(seconds: Int, dataDir: String)
    /// The backup was made by a different PostgreSQL major version than slave_bin's.
    case versionMismatch(backup: String, backupVersion: String, binVersion: String, bin: String)
    /// A first restore would leave the standby without a postgresql.conf of its own.
    case noServerConfig(dataDir: String, configFile: String)

    public var description: String {
        switch self {
        case .badSegment(let path, let reason):
            return "refusing to hand \(path) to PostgreSQL: \(reason). It is truncated or corrupt; "
                + "replace it with a good copy from the master's pg_wal, or remove it so "
                + "streaming (primary_conninfo) can take over"
        case .stillRunning(let pid, let dataDir, let stop):
            return "the standby in \(dataDir) is still running (postmaster pid \(pid)) after "
                + "\(stop); nothing was changed. Stop it by hand (pg_ctl -D \(dataDir) stop -m fast) "
                + "or fix slave_stop_cmd, then run restore again"
        case .noBackup(let fullBackup, let inProgress):
            let note = inProgress ? " (\(fullBackup).inprogress is an unfinished backup)" : ""
            return "no complete backup in \(fullBackup)\(note): run `walmgr wal-master.ini backup` "
                + "on the master first"
        case .unknownBackup(let name, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "no complete backup named \"\(name)\"; available: \(list) "
                + "(see `walmgr wal-slave.ini listbackups`)"
        case .startFailed(let command, let reason, let logTail):
            return "starting the standby with \(command) failed: \(reason). Last lines of the "
                + "server log:\n\(logTail)"
        case .unreachable(let dataDir, let detail):
            return "cannot reach the standby in \(dataDir): \(detail). Is it running? Set slave_db "
                + "to its conninfo if it does not listen on the port and socket of its "
                + "postgresql.conf"
        case .promoteTimedOut(let seconds, let dataDir):
            return "the standby in \(dataDir) is still in recovery \(seconds) s after the promote "
                + "request; see its server log"
        case .versionMismatch(let backup, let backupVersion, let binVersion, let bin):
            return "backup \(backup) is PostgreSQL \(backupVersion) but \(bin) is \(binVersion): "
                + "set slave_bin to the bin directory of PostgreSQL \(backupVersion)"
        case .noServerConfig(let dataDir, let configFile):
            return "not restoring: \(dataDir) has no postgresql.conf of its own and "
                + "slave_config_dir is not set in \(configFile), so the standby would have no "
                + "config to start with; nothing was changed. Set slave_config_dir = %(slave_data)s "
                + "to use the master's copies from config_backup (edit its port there if the "
                + "standby shares the host), or put the standby's postgresql.conf, pg_hba.conf and "
                + "pg_ident.conf in \(dataDir), or set slave_start_cmd to a command that brings its "
                + "own (pg_ctlcluster)"
        }
    }
}
