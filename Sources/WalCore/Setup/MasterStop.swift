import Foundation

/// `stop` (master): pause shipping. WAL stays in pg_wal, marked `.ready`, until `setup` resumes.
///
/// walmgr3 set `archive_command = '/bin/true'`, which reported every later segment as archived
/// and threw it away. Here xarchive keeps failing (exit 1, with a message in the server log) while
/// the stop file exists, so PostgreSQL keeps every segment and retries.
enum MasterStop {
    /// The marker xarchive checks: `<master_data>/walmgr.stopped`.
    static func stopFile(_ config: MasterConfig) -> String { "\(config.masterData)/walmgr.stopped" }

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let log = context.log
        let marker = stopFile(config)
        if context.notReally {
            log.info("would create \(marker) and stop syncdaemon")
            return 0
        }
        try Durable.replace(Array("stopped by walmgr stop at \(Date())\n".utf8), at: marker)
        let ready = readyCount(dataDir: config.masterData)
        log.info(
            "archiving is paused: xarchive now fails on purpose, so PostgreSQL keeps every WAL "
                + "segment in pg_wal (\(ready) waiting now). Watch its disk space. `walmgr "
                + "\(config.common.configFile) setup` resumes shipping; to give up archiving for "
                + "good, set archive_mode = off and restart PostgreSQL (it then recycles WAL that "
                + "was never archived)")
        DaemonControl.signal(pidfile: config.common.pidfile, signal: SIGTERM, log: log)
        return 0
    }

    /// Removes the marker (called by setup).
    static func resume(_ config: MasterConfig, log: Log) {
        let marker = stopFile(config)
        if unlink(marker) == 0 { log.info("removed \(marker): archiving resumes") }
    }

    /// The number of `.ready` files in pg_wal/archive_status (the archiving backlog).
    static func readyCount(dataDir: String) -> Int {
        let dir = "\(dataDir)/pg_wal/archive_status"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".ready") }.count
    }
}

/// Signals a walmgr daemon through its pidfile.
enum DaemonControl {
    /// The pid in `pidfile` when that process is alive; only ``lockedPid(pidfile:)`` may
    /// trust it (a daemon killed with -k leaves its pid behind, and the pid is reused).
    static func livePid(pidfile: String?) -> pid_t? {
        guard let pidfile, let text = try? String(contentsOfFile: pidfile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
            !ProcessLiveness.isGone(pid)
        else { return nil }
        return pid
    }

    /// Sends `signal` to the daemon in `pidfile`, if one runs; returns whether one did.
    @discardableResult
    static func signal(pidfile: String?, signal: Int32, log: Log) -> Bool {
        guard let pid = lockedPid(pidfile: pidfile) else { return false }
        if kill(pid, signal) == 0 {
            log.info("sent signal \(signal) to syncdaemon (pid \(pid))")
            return true
        }
        log.warning("could not signal syncdaemon pid \(pid): \(String(cString: strerror(errno)))")
        return false
    }
}
