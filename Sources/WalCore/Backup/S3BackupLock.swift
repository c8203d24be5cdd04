import Foundation

/// The backup lock of an S3 repository: the object `PREFIX/BACKUPLOCK`, created with
/// `If-None-Match: *` so that of two backups only one gets it. It holds the same record as the
/// directory lock (``BackupLock/Holder``) and goes stale the same way: its process is gone on
/// this host, or it is older than ``BackupLock/staleAfter`` when taken on another host.
extension S3BackupStore {
    /// The lock object's key.
    var lockKey: String { repository.key("BACKUPLOCK") }

    /// Takes the lock for `holder`, taking over a stale one.
    /// - Throws: ``BackupError/locked(path:holder:)`` when a live backup holds it.
    func lock(_ holder: BackupLock.Holder, log: Log) throws {
        for _ in 0..<2 {
            let response = try client.send(
                "PUT", lockKey, headers: [("If-None-Match", "*")], body: Array(holder.rendered.utf8)
            )
            if response.status == 200 { return }
            guard response.status == 412 else { throw client.failure(response, "PUT", lockKey) }
            guard let current = try lockHolder() else { continue }
            // The directory lock's rule, minus the file: a stale holder is judged the same way.
            guard let reason = BackupLock(completedWals: "").staleReason(current) else {
                throw BackupError.locked(path: client.describe(lockKey), holder: current)
            }
            log.warning(
                "taking over the stale backup lock \(client.describe(lockKey)) of pid "
                    + "\(current.pid) on \(current.host.isEmpty ? "an unknown host" : current.host): "
                    + reason)
            try client.delete([lockKey])
        }
        throw BackupError.locked(
            path: client.describe(lockKey), holder: try lockHolder() ?? holder)
    }

    /// Removes the lock when `holder` holds it.
    func unlock(_ holder: BackupLock.Holder) throws {
        guard let current = try lockHolder(), current.pid == holder.pid, current.host == holder.host
        else { return }
        try client.delete([lockKey])
    }

    /// Who holds the lock, or nil when nobody does.
    func lockHolder() throws -> BackupLock.Holder? {
        let response = try client.send("GET", lockKey)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw client.failure(response, "GET", lockKey) }
        let text = String(decoding: response.body, as: UTF8.self)
        return BackupLock.Holder.parse(text) ?? BackupLock.Holder(pid: 0, host: "", since: "")
    }
}
