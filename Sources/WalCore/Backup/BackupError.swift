import Foundation

/// Why a backup, rotation or purge failed, with what to do about it.
public enum BackupError: WalmgrError {
    /// Another backup holds the lock.
    case locked(path: String, holder: BackupLock.Holder)
    /// Archiving is not set up, so pg_backup_stop would wait forever.
    case archivingOff(setting: String, value: String, fix: String)
    /// A copy program failed.
    case copyFailed(what: String, command: String, status: String, stderr: String)
    /// WAL files the backup needs are not in completed_wals.
    case missingWAL(names: [String], directory: String)
    /// A required key is missing.
    case missingKey(key: String, configFile: String, example: String)
    /// The server refused or lost the backup session.
    case server(step: String, detail: String)
    /// The server being backed up (master or standby) went away while the backup copied.
    case serverStopped(role: String, reason: String)
    /// A file name given to a slave helper is not one walmgr writes.
    case badName(String)
    /// The kernel reported a failed write of a backup file (fsync after the copy); `shared`
    /// when the file is hard-linked with an earlier backup (an incremental backup reused it).
    case writeLost(String, errno: Int32, shared: Bool)

    public var description: String {
        switch self {
        case .locked(let path, let holder):
            let host = holder.host.isEmpty ? "an unknown host" : holder.host
            let since = holder.since.isEmpty ? "an unknown time" : holder.since
            if holder.manual {
                return "backups are held off by hand: \(path) was taken with `walmgr SLAVE_INI "
                    + "xlock` on \(host) since \(since). Run `walmgr SLAVE_INI xrelease` on the "
                    + "slave when backups may run again"
            }
            let release =
                S3Repository.isS3(path)
                ? "delete that object (it is the backup lock of the S3 repository)"
                : "run `walmgr SLAVE_INI xrelease` on the slave"
            return "another backup is running: \(path) is held by pid \(holder.pid) on \(host) "
                + "since \(since). Wait for it to finish; if it is dead, \(release)"
        case .archivingOff(let setting, let value, let fix):
            return "archiving is not set up for walmgr (\(setting) = \(value)): pg_backup_stop "
                + "would wait forever for WAL to be archived. \(fix)"
        case .copyFailed(let what, let command, let status, let stderr):
            return "copying \(what) failed (\(status)): \(command)\n\(stderr)\n"
                + "The backup was abandoned; earlier backups are untouched"
        case .missingWAL(let names, let directory):
            let shown = names.prefix(5).joined(separator: ", ")
            return "WAL the backup needs is missing from \(directory): \(shown)"
                + (names.count > 5 ? " and \(names.count - 5) more" : "")
                + ". Check that archive_command runs walmgr xarchive and that pg_stat_archiver "
                + "shows no failures"
        case .missingKey(let key, let configFile, let example):
            return "missing key \(key) in \(configFile): backup needs it; add e.g. "
                + "\(key) = \(example)"
        case .server(let step, let detail):
            return "\(step) failed: \(detail). The backup was abandoned and the server is not "
                + "left in backup mode (closing the session aborts it)"
        case .serverStopped(let role, let reason):
            return "the \(role) stopped during the backup (\(reason)); the copy was stopped and "
                + "nothing was kept. Find out why it stopped (its log), start it, and run backup "
                + "again; earlier backups are untouched"
        case .badName(let name):
            return "\(name) is not a file walmgr writes into a backup (backup_label, "
                + "tablespace_map, \(BackupManifest.fileName))"
        case .writeLost(let path, let code, let shared):
            let earlier =
                shared
                ? "The file is hard-linked with an earlier backup, which holds the same lost "
                    + "write: run `walmgr SLAVE_INI verify --all` and take the next backup with "
                    + "backup_incremental = off"
                : "Earlier backups are untouched"
            return "could not fsync \(path): \(String(cString: strerror(code))). A write of the "
                + "backup's copy was lost on its way to the disk, so the backup is not marked "
                + "complete. \(earlier). Check the slave's disk (dmesg), then run backup again"
        }
    }
}
