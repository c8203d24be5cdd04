import Foundation

/// `boot` (slave): end recovery — hand over partial WAL, promote, wait, report.
enum Boot {
    /// ≤11: the trigger file named in recovery.conf.
    static let triggerFileName = "walmgr.trigger"
    /// How long boot waits for the partial segment to be replayed, and for promotion.
    static let partialWait: Duration = .seconds(15)
    static let promoteWait: Duration = .seconds(60)

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let log = context.log
        _ = try config.need(config.slaveData, key: "slave_data", for: "boot")
        var server = StandbyServer(config, runner: context.runner, log: log)
        let db = try server.connect()
        try verifyIdentity(db, server: server)
        if try db.scalar("SELECT pg_is_in_recovery()") == "f" {
            print("already promoted: \(try report(db))")
            return 0
        }
        if db.serverVersion.hasPgPromote {
            let bin = try await StandbyBin.resolve(
                db.serverVersion, for: "the standby in \(server.dataDir)", config: config,
                runner: context.runner, log: log)
            server = StandbyServer(config, runner: context.runner, log: log, bin: bin)
        }
        if context.notReally {
            log.info("would hand over partial WAL and promote the standby in \(server.dataDir)")
            return 0
        }
        // A running receiver flushes what it holds into its .partial and exits first, so the
        // standby replays every byte the receiver got, and partial_wals goes quiet.
        if let pid = try await ReceiveCommand.stopForBoot(config, log: log) {
            log.info("the WAL receiver (pid \(pid)) stopped after its final flush")
        }
        let files = StandbyFiles(config.common)
        PartialStore.pruneCompleted(files, log: log)
        try await waitForQuietPartials(files.partialWals, quiet: config.bootSyncQuiet, log: log)
        try writeStop(db: db, files: files, log: log)
        try await replayPartial(db: db, files: files, log: log)
        // Again just before promoting: streaming may have delivered more since the first STOP.
        try writeStop(db: db, files: files, log: log)
        try await promote(db: db, server: server, log: log)
        try StandbyFiles.remove(files.stopFile)
        print("promoted: \(try report(db))")
        if try db.scalar("SHOW archive_mode") == "off" {
            log.warning(
                "archiving is off here (restore turned it off on the standby), so nothing "
                    + "protects this new master yet: make the old master host its standby as "
                    + "\"After a failover\" in the README says (--init-master here, setup --hba, "
                    + "a restart, backup, restore there)")
        }
        return 0
    }

    /// Writes STOP with the standby's position (the larger of the last received and the last
    /// replayed LSN), so xrestore serves partial_wals but never a partial that ends before
    /// what the standby holds (see ``PartialGuard``).
    ///
    /// Why this keeps streaming's bytes: PostgreSQL replaces pg_wal/NAME with whatever
    /// restore_command hands it. A streaming standby asks restore_command for its current
    /// segment when the walreceiver fails (the master is gone) and again when promotion ends
    /// streaming; it then re-reads its last replayed record with PANIC on failure. Serving a
    /// partial only when it holds at least the standby's position means the served file is
    /// the streamed data plus what syncdaemon added; otherwise xrestore exits 1 and PostgreSQL
    /// reads its own pg_wal copy, so the promoted server keeps every byte either delivered.
    static func writeStop(db: PGConnection, files: StandbyFiles, log: Log) throws {
        let v = db.serverVersion
        let text = try db.scalar(
            "SELECT greatest(\(v.lastReceiveLSNFunction)(), \(v.lastReplayLSNFunction)())::text")
        let lsn = text.flatMap { LSN($0) }
        log.debug("standby position for xrestore's partial check: \(lsn?.description ?? "none")")
        try StandbyFiles.create(files.stopFile, note: PartialGuard.stopNote(standbyLSN: lsn))
    }

    /// The newest partial segment syncdaemon left, if any.
    static func newestPartial(_ files: StandbyFiles) -> WALName? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: files.partialWals)) ?? []
        return names.compactMap { name -> WALName? in
            let base = name.hasSuffix(".partial") ? String(name.dropLast(8)) : name
            return WALName(base).flatMap { $0.kind == .segment ? $0 : nil }
        }.max { $0.name.suffix(16) < $1.name.suffix(16) }
    }

    /// Waits (bounded) until replay reached the newest partial segment and stopped advancing.
    static func replayPartial(db: PGConnection, files: StandbyFiles, log: Log) async throws {
        guard let partial = newestPartial(files), let segment = partial.segment,
            PartialStore.hasRecords("\(files.partialWals)/\(partial.name)")
        else { return }
        let sizeText = try db.scalar(
            "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")
        guard let size = sizeText.flatMap(UInt64.init),
            let start = WALSegment(name: segment, size: size)?.start?.value
        else { return }
        // The last segment ends at 2^64: its end saturates instead of overflowing.
        let (sum, overflow) = start.addingReportingOverflow(size)
        let end = overflow ? UInt64.max : sum
        let function = db.serverVersion.lastReplayLSNFunction
        let deadline = ContinuousClock.now + partialWait
        var last: LSN?
        log.info("handing over the partial segment \(partial) from \(files.partialWals)")
        while ContinuousClock.now < deadline {
            let replayed = try db.scalar("SELECT \(function)()").flatMap { LSN($0) }
            if let replayed, replayed.value >= end { return }
            // Strictly past the start: at `start` exactly, PostgreSQL may not have fetched the
            // partial file yet (it retries restore_command every wal_retrieve_retry_interval).
            if let replayed, replayed.value > start, replayed == last { return }
            last = replayed
            try await Task.sleep(for: .milliseconds(500))
        }
        log.warning("replay did not reach \(partial) within \(partialWait); promoting anyway")
    }

    /// `pg_ctl promote` (12+) or the trigger file (≤11), then waits for the end of recovery.
    static func promote(db: PGConnection, server: StandbyServer, log: Log) async throws {
        let version = db.serverVersion
        if version.hasPgPromote {
            let pgCtl = try server.bin.path("pg_ctl")
            let command = Command(pgCtl, ["promote", "-D", server.dataDir, "-W"])
            let result = try await server.runner.run(command, input: .none, timeout: .seconds(60))
            guard result.succeeded else {
                throw WalmgrFailure(
                    "\(command) failed (\(result.statusText)): \(result.stderrTail)")
            }
        } else {
            try StandbyFiles.create("\(server.dataDir)/\(triggerFileName)", note: "walmgr boot")
        }
        log.info("promotion requested; waiting until the server leaves recovery")
        let deadline = ContinuousClock.now + promoteWait
        while try db.scalar("SELECT pg_is_in_recovery()") == "t" {
            guard ContinuousClock.now < deadline else {
                throw StandbyError.promoteTimedOut(seconds: 60, dataDir: server.dataDir)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// "timeline N, last replayed LSN X, current LSN Y".
    static func report(_ db: PGConnection) throws -> String {
        let v = db.serverVersion
        let row = try db.query(
            "SELECT \(v.walFileNameFunction)(\(v.currentLSNFunction)()) AS wal, "
                + "\(v.lastReplayLSNFunction)()::text AS replayed, \(v.currentLSNFunction)()::text AS current"
        )
        let timeline =
            row[0, "wal"].flatMap { UInt32($0.prefix(8), radix: 16) }.map(String.init) ?? "?"
        return "timeline \(timeline), last replayed LSN \(row[0, "replayed"] ?? "none"), "
            + "current LSN \(row[0, "current"] ?? "?")"
    }
}
