import Foundation
import Synchronization

extension StandbyServer {
    /// Starts the standby and waits until it accepts connections or reports it is replaying.
    ///
    /// The default start (`pg_ctl -w start`) runs while walmgr polls on its own: pg_ctl looks
    /// at postmaster.pid only every 100 ms, walmgr from 20 ms on (``PollDelays``), and returns
    /// as soon as the server is up, even if pg_ctl has not noticed yet (it ends by itself a
    /// moment later). pg_ctl still does what only it can: it knows the postmaster's pid before
    /// postmaster.pid exists, so a server that dies early is reported by pg_ctl's failure.
    /// `slave_start_cmd` is the user's own command and is waited for before the poll.
    func start(settings: [String] = []) async throws {
        let command = try startCommand(settings: settings)
        if config.slaveStartCmd == nil {
            try Directories.make("\(dataDir)/log")
        }
        log.info("starting the standby with \(command)")
        let outcome = StartOutcome()
        let runner = self.runner
        let starting = Task {
            do {
                let result = try await runner.run(command, input: .none, timeout: .seconds(120))
                outcome.end(.success(result))
            } catch { outcome.end(.failure(error)) }
        }
        if config.slaveStartCmd != nil { await starting.value }
        try await waitReady(command: command, outcome: outcome)
    }

    /// Polls postmaster.pid and a connection until the server is up (or gone). With `outcome`
    /// (the start command, still running or ended) a failed start command ends the wait, and
    /// a missing postmaster.pid means nothing while the command runs (it is not written yet).
    func waitReady(command: Command, outcome: StartOutcome? = nil) async throws {
        let deadline = ContinuousClock.now + Self.startWait
        var lastError = "it did not report ready"
        var delays = PollDelays()
        while ContinuousClock.now < deadline {
            if let failure = outcome?.failure {
                throw StandbyError.startFailed(
                    command: command.description, reason: failure, logTail: logTail())
            }
            let alive = runningPID != nil
            let pidFile = StandbyFiles.exists("\(dataDir)/postmaster.pid")
            if !alive, !pidFile, outcome?.running != true {
                lastError = "the server exited during start-up"
                break
            }
            switch alive ? pidFileStatus : nil {
            case "standby":
                log.info("the standby is replaying (hot_standby is off: no read-only connections)")
                return
            case "ready":
                do {
                    let db = try connect()
                    let recovering = try db.scalar("SELECT pg_is_in_recovery()") == "t"
                    log.info(
                        recovering
                            ? "the standby accepts read-only connections" : "the server is up")
                    return
                } catch { lastError = "\(error)" }
            default: break
            }
            try await Task.sleep(for: delays.next())
        }
        throw StandbyError.startFailed(
            command: command.description, reason: lastError, logTail: logTail())
    }
}

/// How the start command ended, once it has; set by the task that runs it, read by the poll.
final class StartOutcome: Sendable {
    private let result = Mutex<Result<ProcessResult, any Error>?>(nil)

    /// Records the command's end.
    func end(_ ended: Result<ProcessResult, any Error>) {
        result.withLock { $0 = ended }
    }

    /// True until the command has ended.
    var running: Bool { result.withLock { $0 == nil } }

    /// Why the command failed ("exit 1 <stderr>"), or nil while it runs or when it succeeded.
    var failure: String? {
        switch result.withLock({ $0 }) {
        case .success(let ended) where !ended.succeeded:
            return "\(ended.statusText) \(ended.stderrTail)"
        case .failure(let error): return "\(error)"
        default: return nil
        }
    }
}
