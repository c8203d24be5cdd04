import Foundation

/// Watches a local PostgreSQL server through its postmaster.pid while a backup copies it.
struct PostmasterWatch: Sendable {
    /// How often it looks.
    static let interval: Duration = .seconds(1)
    let dataDir: String
    /// "master" or "standby", for the error.
    let role: String

    /// Runs `copy` while watching the postmaster: when it goes away (a crash, a stop), the copy
    /// is cancelled (rsync is stopped, the in-process copy stops before its next file) and
    /// ``BackupError/serverStopped(role:reason:)`` is thrown now, instead of the backup failing
    /// at pg_backup_stop after copying everything. Once the copy is done, a crash is
    /// pg_backup_stop's to report.
    func guarding<T: Sendable>(_ copy: @escaping @Sendable () async throws -> T) async throws -> T {
        let copying = Task { try await copy() }
        let watcher = Task { () -> String? in
            while !Task.isCancelled {
                if let gone = gone() {
                    copying.cancel()
                    return gone
                }
                try? await Task.sleep(for: Self.interval)
            }
            return nil
        }
        do {
            let copied = try await copying.value
            watcher.cancel()
            return copied
        } catch {
            watcher.cancel()
            let seen = await watcher.value
            if let gone = seen ?? gone() {
                throw BackupError.serverStopped(role: role, reason: gone)
            }
            throw error
        }
    }

    /// Why the server is gone, or nil while it runs (or when that cannot be told, e.g. the pid
    /// file is unreadable: a backup is never stopped on a guess).
    func gone() -> String? {
        let path = "\(dataDir)/postmaster.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return access(path, F_OK) != 0 && errno == ENOENT ? "\(path) is gone" : nil
        }
        guard let line = text.split(separator: "\n").first, let pid = pid_t(line) else {
            return nil
        }
        guard ProcessLiveness.isGone(pid) else { return nil }
        return "its postmaster, pid \(pid) in \(path), is gone"
    }
}
