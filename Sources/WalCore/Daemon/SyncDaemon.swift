import Dispatch
import Foundation
import Synchronization

/// `sync` and `syncdaemon` (master): ship the bytes written to the current WAL segment since the
/// last round, once or every `loop_delay` seconds, so a failover loses about one loop_delay.
enum SyncDaemon {
    /// The longest back-off after repeated failures.
    static let maxBackoff = 60.0
    /// Set in the environment of the process `syncdaemon -d` starts.
    static let childMarker = "WALMGR_SYNCDAEMON_CHILD"

    /// `sync`: one round from the saved position; logs what it sent.
    static func once(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        if context.notReally {
            context.log.info("would ship the partial segment to \(config.common.partialWals)")
            return 0
        }
        let session = try SyncSession(config: config, context: context)
        defer { session.close() }
        let report = try await session.round()
        context.log.info(report.line)
        return 0
    }

    /// `syncdaemon [-d|-s|-k|-r]`.
    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let pidfile = config.common.pidfile
        if let (signal, name) = controlSignal(context) {
            guard let pid = DaemonControl.lockedPid(pidfile: pidfile), kill(pid, signal) == 0 else {
                context.log.info("no syncdaemon is running (pidfile \(pidfile ?? "not set"))")
                return signal == SIGHUP ? 1 : 0
            }
            context.log.info("sent \(name) to syncdaemon pid \(pid)")
            return 0
        }
        if context.has("-d") { return try await DaemonProcess.detach(config, context) }
        if context.notReally {
            context.log.info("would ship the partial segment every \(config.loopDelay) s")
            return 0
        }
        let log =
            ProcessInfo.processInfo.environment[childMarker] == nil
            ? context.log
            : Log(verbose: context.invocation.verbose, quiet: context.invocation.quiet)
        // Handlers first: once the pidfile names this process, -r's SIGHUP must not kill it.
        let signals = StopSignal(log: log)
        let lock = try DaemonLock.acquire(pidfile: pidfile, configFile: config.common.configFile)
        defer { lock.release() }
        let context = context.with(log: log)
        let session = try SyncSession(config: config, context: context)
        log.info(
            "syncdaemon started (pid \(getpid())): shipping to \(config.common.partialWals) "
                + "every \(config.loopDelay) s")
        let reload = ConfigReload(config: config, invocation: context.invocation, log: log)
        let last = await loop(session, delay: config.loopDelay, stop: signals, log: log) {
            guard let new = reload.reload() else { return nil }
            return try SyncSession(config: new, context: context)
        }
        last.close()
        log.info("syncdaemon stopped")
        return 0
    }

    /// The signal -s (SIGTERM), -k (SIGKILL) or -r (SIGHUP) sends, with its name.
    static func controlSignal(_ context: CommandContext) -> (Int32, String)? {
        if context.has("-k") { return (SIGKILL, "SIGKILL") }
        if context.has("-s") { return (SIGTERM, "SIGTERM") }
        if context.has("-r") { return (SIGHUP, "SIGHUP (reload the config)") }
        return nil
    }

    /// Rounds until a stop signal; a failure logs, backs off (doubling up to 60 s) and goes on.
    /// After SIGHUP, `reload` gives the session for the new config (nil: keep the old one).
    /// Returns the last session, for the caller to close.
    static func loop(
        _ session: SyncSession, delay loopDelay: Double, stop: StopSignal, log: Log,
        reload: () throws -> SyncSession? = { nil }
    ) async -> SyncSession {
        var session = session
        var loopDelay = loopDelay
        var delay = loopDelay
        while !stop.requested {
            if stop.takeReload() {
                do {
                    if let next = try reload() {
                        session.close()
                        session = next
                        loopDelay = next.config.loopDelay
                        delay = loopDelay
                    }
                } catch {
                    log.error("reloaded config not applied, still running the old one: \(error)")
                }
            }
            do {
                let report = try await session.round()
                delay = loopDelay
                if report.bytes > 0 { log.info(report.line) } else { log.debug(report.line) }
            } catch {
                delay = max(loopDelay, min(delay * 2, maxBackoff))
                log.error("sync round failed: \(error); retrying in \(delay) s")
            }
            await stop.sleep(seconds: delay)
        }
        return session
    }
}

/// SIGTERM and SIGINT set a flag the loop reads between rounds, so a round always finishes;
/// SIGHUP (`syncdaemon -r`) asks for a config reload before the next round.
final class StopSignal: Sendable {
    /// A class so the signal handlers can share it (a Mutex cannot be captured by value).
    private final class Flag: Sendable {
        let value = Mutex(false)
    }
    private let flag = Flag()
    private let reloadFlag = Flag()
    private nonisolated(unsafe) var sources: [any DispatchSourceSignal] = []

    init(log: Log, signals: [Int32] = [SIGTERM, SIGINT]) {
        for number in signals {
            listen(number) { [flag] in
                flag.value.withLock { $0 = true }
                log.info("received signal \(number): finishing the current round, then exiting")
            }
        }
        listen(SIGHUP) { [reloadFlag] in
            reloadFlag.value.withLock { $0 = true }
            log.info("received SIGHUP: reloading the config before the next round")
        }
    }

    private func listen(_ number: Int32, handler: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        sources.append(source)
    }

    /// True once, after SIGHUP: the caller reloads the config.
    func takeReload() -> Bool {
        reloadFlag.value.withLock { requested in
            defer { requested = false }
            return requested
        }
    }

    /// True once a stop signal arrived.
    var requested: Bool { flag.value.withLock { $0 } }

    /// Sleeps up to `seconds`, waking early on a stop or reload signal.
    func sleep(seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while !requested, !reloadFlag.value.withLock({ $0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
    }
}

extension CommandContext {
    /// The same context with another logger.
    func with(log: Log) -> CommandContext {
        CommandContext(
            config: config, log: log, runner: runner, notReally: notReally, arguments: arguments,
            flags: flags, invocation: invocation, options: options)
    }
}
