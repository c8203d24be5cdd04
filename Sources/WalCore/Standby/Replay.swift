import Foundation

/// `pause` / `continue` (slave): pause or resume WAL replay, in the server and for xrestore.
enum Replay {
    static func pause(_ context: CommandContext) async throws -> Int32 {
        try await change(context, pause: true)
    }

    static func resume(_ context: CommandContext) async throws -> Int32 {
        try await change(context, pause: false)
    }

    static func change(_ context: CommandContext, pause: Bool) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let files = StandbyFiles(config.common)
        if context.notReally {
            context.log.info("would \(pause ? "pause" : "resume") replay")
            return 0
        }
        if pause {
            try StandbyFiles.create(files.pauseFile, note: "written by walmgr pause")
        } else {
            try StandbyFiles.remove(files.pauseFile)
        }
        let server = StandbyServer(config, runner: context.runner, log: context.log)
        let db: PGConnection
        do { db = try server.connect() } catch {
            context.log.warning(
                "\(pause ? "created" : "removed") \(files.pauseFile), but \(error)")
            return 1
        }
        guard try db.scalar("SELECT pg_is_in_recovery()") == "t" else {
            context.log.error(
                "the server in \(server.dataDir) is not in recovery: nothing to \(pause ? "pause" : "resume")"
            )
            return 1
        }
        let v = db.serverVersion
        try db.execute("SELECT \(pause ? v.replayPauseFunction : v.replayResumeFunction)()")
        print("replay: \(try state(db))")
        return 0
    }

    /// `paused`, `pause requested` or `not paused` (14+), else from pg_is_wal_replay_paused().
    static func state(_ db: PGConnection) throws -> String {
        let v = db.serverVersion
        if v.num >= 140000 {
            return try db.scalar("SELECT pg_get_wal_replay_pause_state()") ?? "unknown"
        }
        return try db.scalar("SELECT \(v.replayIsPausedFunction)()") == "t"
            ? "paused" : "not paused"
    }
}
