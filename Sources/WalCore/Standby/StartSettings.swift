import Foundation

/// Server settings walmgr gives the standby's first start after a restore, on pg_ctl's command
/// line only (see ``StandbyServer/startCommand(settings:)``).
enum StartSettings {
    /// `recovery_init_sync_method=syncfs` on PostgreSQL 14+ on Linux; nothing before 14 (the
    /// setting does not exist there) or where the server has no syncfs.
    ///
    /// Why: a server starting from a backup_label first fsyncs every file of the data dir
    /// (`fsync`, the default), seconds for a large cluster. Restore has just flushed each
    /// restored tree with syncfs before renaming it into place, so the data is already durable;
    /// with `syncfs` PostgreSQL flushes once per file system (data dir, pg_wal, tablespaces)
    /// instead, which still covers anything written since.
    static func afterRestore(_ version: ServerVersion) -> [String] {
        #if os(Linux)
            guard version.hasRecoveryInitSyncMethod else { return [] }
            return ["recovery_init_sync_method=syncfs"]
        #else
            return []
        #endif
    }
}

/// Waits between polls of a starting server: 20 ms at first, when a start usually ends, then
/// doubling up to 100 ms so a slow start does not spin.
struct PollDelays {
    /// The longest wait.
    static let longest: Duration = .milliseconds(100)
    private var current: Duration = .milliseconds(20)

    /// The next wait; each is twice the one before, up to ``longest``.
    mutating func next() -> Duration {
        defer { current = min(current * 2, Self.longest) }
        return current
    }
}
