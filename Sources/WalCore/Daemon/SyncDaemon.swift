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

    /// `syncdaemon [-d|-s|-k]`.
    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let pidfile = config.common.pidfile
        if context.has("-s") || context.has("-k") {
            let signal = context.has("-k") ? SIGKILL : SIGTERM
            guard let pid = DaemonControl.lockedPid(pidfile: pidfile), kill(pid, signal) == 0 else {
                context.log.info("no syncdaemon is running (pidfile \(pidfile ?? "not set"))")
                return 0
            }
            context.log.info(
                "sent \(signal == SIGKILL ? "SIGKILL" : "SIGTERM") to syncdaemon pid \(pid)")
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
        let lock = try pidfile.map { try PidFileLock.acquire($0) }
        defer { lock?.release() }
        let stop = StopSignal(log: log)
        let session = try SyncSession(config: config, context: context.with(log: log))
        defer { session.close() }
        log.info(
            "syncdaemon started (pid \(getpid())): shipping to \(config.common.partialWals) "
                + "every \(config.loopDelay) s")
        await loop(session, delay: config.loopDelay, stop: stop, log: log)
        log.info("syncdaemon stopped")
        return 0
    }

    /// Rounds until a stop signal; a failure logs, backs off (doubling up to 60 s) and goes on.
    static func loop(_ session: SyncSession, delay loopDelay: Double, stop: StopSignal, log: Log)
        async
    {
        var delay = loopDelay
        while !stop.requested {
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
    }
}

/// SIGTERM and SIGINT set a flag the loop reads between rounds, so a round always finishes.
final class StopSignal: Sendable {
    /// A class so the signal handlers can share it (a Mutex cannot be captured by value).
    private final class Flag: Sendable {
        let value = Mutex(false)
    }
    private let flag = Flag()
    private nonisolated(unsafe) var sources: [any DispatchSourceSignal] = []

    init(log: Log, signals: [Int32] = [SIGTERM, SIGINT]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [flag] in
                flag.value.withLock { $0 = true }
                log.info("received signal \(number): finishing the current round, then exiting")
            }
            source.resume()
            sources.append(source)
        }
    }

    /// True once a stop signal arrived.
    var requested: Bool { flag.value.withLock { $0 } }

    /// Sleeps up to `seconds`, waking early on a stop signal.
    func sleep(seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while !requested, ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
    }
}

extension CommandContext {
    /// The same context with another logger.
    func with(log: Log) -> CommandContext {
        CommandContext(
            config: config, log: log, runner: runner, notReally: notReally, arguments: arguments,
            flags: flags, invocation: invocation)
    }
}
