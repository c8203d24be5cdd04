import Foundation

/// `restore --target-*`: the backup choice and archive check, before anything moves.
extension Restore {
    /// Chooses the backup for `target` and checks that completed_wals holds the WAL to reach it.
    static func plan(_ config: SlaveConfig, target: RecoveryTarget, named: String?, log: Log)
        throws -> PITRPlan
    {
        let fullBackup = try config.need(
            config.common.fullBackup, key: "full_backup", for: "restore")
        let store = try S3BackupStore(config.common)
        let backups = try (store?.list() ?? BackupCatalog(fullBackup: fullBackup).complete())
            .map(\.manifest)
        guard !backups.isEmpty else {
            throw StandbyError.noBackup(
                fullBackup: fullBackup,
                inProgress: store == nil
                    && StandbyFiles.exists(BackupCatalog(fullBackup: fullBackup).inProgress))
        }
        let archive = try ArchiveIndex.read(config.common)
        let plan = try PITRPlan.make(
            target: target, backups: backups, named: named, archive: archive)
        let stopped = [plan.backup.stopTime, plan.backup.stopLSN].filter { !$0.isEmpty }
        log.info(
            "recovering to \(target.summary) from \(plan.backup.name) (stopped "
                + "\(stopped.joined(separator: ", "))), timeline \(plan.history.timeline) (\(plan.timelineSetting)), then "
                + "\(target.action.rawValue)")
        log.info(
            "the archive holds every segment from \(plan.first.name) to \(plan.last.name)"
                + (plan.lastIsNewest ? " (the newest archived one)" : ""))
        return plan
    }

    /// Starts the server; with `--target-action shutdown` it may stop on its own at the target.
    static func startServer(
        _ server: StandbyServer, version: ServerVersion, target: RecoveryTarget?, log: Log
    ) async throws {
        do {
            try await server.start(settings: StartSettings.afterRestore(version))
        } catch let error as StandbyError {
            guard target?.action == .shutdown, server.runningPID == nil else { throw error }
            log.info(
                "the server stopped, as --target-action shutdown asks, once it reached the target")
            return
        }
        if let target {
            log.info(
                "recovery runs to \(target.summary) and then does \(target.action.rawValue); "
                    + "`walmgr SLAVE.ini status` shows where it stopped")
        }
    }
}
