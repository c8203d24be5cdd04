import Foundation

extension Restore {
    /// A restore that `run` has decided and checked (backup, destination, config files,
    /// pg_ctl): nothing has been stopped or moved yet.
    struct Job {
        let config: SlaveConfig
        let context: CommandContext
        /// Copies the backup into the staging dir and swaps it in.
        let copy: RestoreCopy
        /// The backup's PostgreSQL version.
        let version: ServerVersion
        let configFiles: ConfigRestore.Choice
        /// pg_ctl's programs for slave_data's standby; nil for another DST (nothing is
        /// stopped or started there).
        let bin: PGBin?
        let target: RecoveryTarget?
        let plan: PITRPlan?

        var isStandby: Bool { bin != nil }

        /// Stops the standby, copies the backup, writes its settings, swaps it in, starts it.
        func execute() async throws -> Int32 {
            let log = context.log
            let destination = copy.destination
            let server = StandbyServer(
                config, runner: context.runner, log: log, dataDir: destination, bin: bin)
            if isStandby { try await server.stop() }
            let started = ContinuousClock.now
            let tablespaces = try await copy.prepare()
            let standby = target == nil || context.has("--standby")
            let slot =
                isStandby && standby
                ? try ReplicationSlots.prepareForRestore(config, log: log) : nil
            try Restore.configure(
                copy.staging, destination: destination, configFiles: configFiles, config: config,
                version: version, slot: slot, log: log,
                target: target.map { ($0, plan?.timelineSetting ?? "current", standby) })
            let old = try copy.swap(tablespaceTargets: tablespaces)
            log.info(
                "\(destination) holds \(copy.entry.manifest.name) (copied in "
                    + "\(Restore.seconds(since: started)) s)")
            guard isStandby else {
                try copy.removeOld(old)
                log.info("restored into \(destination); start it yourself (it is not slave_data)")
                return 0
            }
            // The old data dir goes while the standby starts, which mostly waits for recovery.
            let removing = OffThread.start { try copy.removeOld(old) }
            do {
                try await Restore.startServer(server, version: version, target: target, log: log)
            } catch {
                _ = try? await removing.value()
                throw error
            }
            return await Restore.awaitRemoval(removing, log: log)
        }
    }
}

extension Restore {
    /// Waits for the old data dir's removal. Restore has succeeded by then (the standby runs),
    /// so a failed removal is a warning and exit 0: a failure would send the DBA to run restore
    /// again over a standby that is fine.
    static func awaitRemoval(_ removing: OffThread, log: Log) async -> Int32 {
        do {
            try await removing.value()
        } catch {
            log.warning("the standby runs, but the old data dir was not removed: \(error)")
        }
        return 0
    }
}
