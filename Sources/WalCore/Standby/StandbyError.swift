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
    /// No pg_ctl of the cluster's major version was found (`found` lists the others seen);
    /// nothing was changed.
    case versionMismatch(what: String, version: String, found: [String], key: String)
    /// slave_db reaches a server that is not the one in slave_data; nothing was changed.
    case notTheStandby(slaveData: String, expected: String, reached: String)
    /// partial_wals kept changing (a syncdaemon still ships WAL); boot did not promote.
    case partialWalsBusy(dir: String, seconds: Int, quiet: Int)
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
        case .versionMismatch(let what, let version, let found, let key):
            let seen =
                found.isEmpty
                ? "no pg_ctl was found" : "found only \(found.joined(separator: "; "))"
            return "\(what) is PostgreSQL \(version), but \(seen); nothing was changed. Set "
                + "\(key) to PostgreSQL \(version)'s bin directory (e.g. "
                + "/usr/lib/postgresql/\(version)/bin, or `pg_config --bindir` of that "
                + "installation), or install PostgreSQL \(version)"
        case .notTheStandby(let slaveData, let expected, let reached):
            return "slave_db reaches \(reached), not the standby in slave_data \(slaveData) "
                + "(\(expected)); boot promotes only slave_data's own server and changed nothing. "
                + "Start the standby in \(slaveData), or set slave_db (host, port) to reach it"
        case .partialWalsBusy(let dir, let seconds, let quiet):
            return "\(dir) still changed within the last \(quiet) s after waiting \(seconds) s: a "
                + "syncdaemon still ships WAL from a running master, and promoting now would "
                + "lose what it sends next. Nothing was promoted. Stop the master (or "
                + "`walmgr wal-master.ini syncdaemon -s` there), then run boot again"
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
