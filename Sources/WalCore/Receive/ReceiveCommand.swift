import Foundation

/// `receive [-d|-s|-k]` (slave): stream WAL from the master over the replication protocol into
/// partial_wals and completed_wals, reconnecting with back-off, until SIGTERM.
enum ReceiveCommand {
    /// The longest back-off between reconnects.
    static let maxBackoff = 30.0

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let pidfile = config.common.pidfile
        if let (signal, name) = SyncDaemon.controlSignal(context), signal != SIGHUP {
            guard let pid = DaemonControl.lockedPid(pidfile: pidfile), kill(pid, signal) == 0 else {
                context.log.info("no receiver is running (pidfile \(pidfile ?? "not set"))")
                return 0
            }
            context.log.info("sent \(name) to the receiver, pid \(pid)")
            return 0
        }
        if context.has("-d") {
            return try await DaemonProcess.detach(common: config.common, daemon: "receive", context)
        }
        guard config.receive.conninfo != nil else {
            throw ReceiveError.noConninfo(configFile: config.common.configFile)
        }
        if S3Repository.isS3(config.common.completedWals) {
            throw ReceiveError.s3Archive(
                completedWals: config.common.completedWals, configFile: config.common.configFile)
        }
        if context.notReally {
            context.log.info("would stream WAL from the master into \(config.common.partialWals)")
            return 0
        }
        let log =
            ProcessInfo.processInfo.environment[SyncDaemon.childMarker] == nil
            ? context.log
            : Log(verbose: context.invocation.verbose, quiet: context.invocation.quiet)
        let stop = StopSignal(log: log)
        let lock = try DaemonLock.acquire(
            pidfile: pidfile, configFile: config.common.configFile, daemon: "receive")
        defer { lock.release() }
        let receiver = try Receiver(config: config, stop: stop, log: log)
        log.info(
            "receiver started (pid \(getpid())): slot \(config.receive.slot), application_name "
                + "\(ReceiveSession.applicationName(config)), "
                + (config.receive.synchronous ? "synchronous" : "asynchronous"))
        return try await receiver.loop()
    }
}

/// The receiver's life: connect, stream, follow timelines; on failure back off and reconnect.
final class Receiver {
    let config: SlaveConfig
    let stop: StopSignal
    let log: Log
    let level: Int
    let threads: Int
    private var lastWrite = ContinuousClock.now - .seconds(10)
    private var state: ReceiveState

    init(config: SlaveConfig, stop: StopSignal, log: Log) throws {
        self.config = config
        self.stop = stop
        self.log = log
        let common = config.common
        level = try WALCodec.level(
            common.compressMethod, common.compressLevel, configFile: common.configFile)
        threads = try WALCodec.threads(common.compressThreads, configFile: common.configFile)
        state = ReceiveState(
            pid: getpid(), slot: config.receive.slot, synchronous: config.receive.synchronous,
            timeline: 0, received: "0/0", flushed: "0/0", serverWalEnd: "0/0",
            lastMessageTime: 0, caughtUpTime: Date().timeIntervalSince1970, state: "connecting")
    }

    /// Runs until a stop signal. A refused identity ends it (exit 1); other failures reconnect.
    func loop() async throws -> Int32 {
        var delay = 1.0
        defer { save(status: "stopped", force: true) }
        while !stop.requested {
            do {
                try session()
                delay = 1.0
            } catch let error as ReceiveError {
                if case .otherCluster = error { throw error }
                log.error("receiving failed: \(error); reconnecting in \(delay) s")
            } catch {
                let why = Self.failure(error, config: config)
                log.error("receiving failed: \(why); reconnecting in \(delay) s")
            }
            save(status: "connecting", force: true)
            if stop.requested { break }
            await stop.sleep(seconds: delay)
            delay = min(delay * 2, ReceiveCommand.maxBackoff)
        }
        log.info("receiver stopped")
        return 0
    }

    /// One connection: identify, slot, start point, then stream timeline after timeline.
    private func session() throws {
        let session = try ReceiveSession(config: config)
        defer { session.db.close() }
        try session.ensureSlot(log: log)
        var (lsn, timeline) = try session.startPoint()
        let writer = ReceiveWriter(
            config: config.common, segmentSize: session.segmentSize, level: level,
            threads: threads, start: lsn, timeline: timeline, log: log,
            zeroFill: config.receive.synchronous)
        defer { writer.closeFile() }
        while !stop.requested {
            log.info("streaming from \(lsn) on timeline \(timeline) (\(session.shownConninfo))")
            try session.db.startCopyBoth(
                "START_REPLICATION SLOT \(config.receive.slot) PHYSICAL \(lsn) TIMELINE \(timeline)"
            )
            let stream = ReceiveStream(
                db: session.db, writer: writer, settings: config.receive, stop: stop, log: log
            ) { [weak self] in self?.progress($0) }
            guard try stream.run() == .serverEnded else { return }
            guard let next = try session.db.endCopy(),
                let tli = next.int(row: 0, column: "next_tli"),
                let start = next[0, "next_tli_startpos"].flatMap(LSN.init)
            else { throw ReceiveError.streamEnded }
            _ = try session.fetchHistory(UInt32(tli))
            lsn = start.segmentStart(session.segmentSize)
            timeline = UInt32(tli)
            log.info("timeline \(timeline) starts at \(start): following it")
            try writer.switchTimeline(to: timeline, start: lsn)
        }
    }

    private func progress(_ p: ReceiveState.Progress) {
        state.timeline = p.timeline
        state.received = p.received.description
        state.flushed = p.flushed.description
        state.serverWalEnd = p.serverWalEnd.description
        state.lastMessageTime = p.lastMessage.timeIntervalSince1970
        state.caughtUpTime = p.caughtUp.timeIntervalSince1970
        save(status: "streaming", force: false)
    }

    /// Writes the state file, at most once a second unless `force`.
    private func save(status: String, force: Bool) {
        guard force || ContinuousClock.now - lastWrite >= .seconds(1) else { return }
        state.state = status
        lastWrite = ContinuousClock.now
        do {
            try state.write(partialWals: config.common.partialWals)
        } catch {
            log.warning("could not write the receiver state for status: \(error)")
        }
    }
}

extension ReceiveCommand {
    /// For `boot`: stops a running receiver with SIGTERM and waits until it has exited, so its
    /// last bytes are fsynced in its `.partial` before the standby replays them. Returns the
    /// stopped pid, or nil when none ran. Throws when it is still running after `timeout`.
    static func stopForBoot(_ config: SlaveConfig, timeout: Duration = .seconds(30), log: Log)
        async throws -> pid_t?
    {
        let state = ReceiveState.read(partialWals: config.common.partialWals)
        let pid =
            DaemonControl.lockedPid(pidfile: config.common.pidfile)
            ?? state.flatMap { SlaveStatus.receiverRunning($0, pidfile: nil) ? $0.pid : nil }
        guard let pid, kill(pid, SIGTERM) == 0 else { return nil }
        log.info("stopping the WAL receiver (pid \(pid)) so it flushes what it holds")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if ProcessLiveness.isGone(pid) { return pid }
            if ReceiveState.read(partialWals: config.common.partialWals)?.state == "stopped",
                DaemonControl.lockedPid(pidfile: config.common.pidfile) == nil
            {
                return pid
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WalmgrFailure(
            "the WAL receiver (pid \(pid)) did not stop within \(timeout); boot needs its last "
                + "WAL: stop it (walmgr \(config.common.configFile) receive -s) and run boot again")
    }
}

extension Receiver {
    /// What a failed session logs (pure). A refused connection names its cause and fix as the
    /// slave's `check` does (the .pgpass password, pg_hba, the REPLICATION role, the network),
    /// instead of libpq's generic hint, which sent a DBA looking at listen_addresses for a
    /// missing password.
    static func failure(_ error: any Error, config: SlaveConfig) -> String {
        guard case PGError.connectFailed(_, let host, let port, let message)? = error as? PGError,
            let conninfo = config.receive.conninfo
        else { return "\(error)" }
        let outcome = ReplicationProbe.classify(message, at: "\(host):\(port)")
        let user = ReplicationProbe.user(primaryConninfo: conninfo)
        return outcome.explained(user: user, configFile: config.common.configFile) ?? "\(error)"
    }
}
