import Foundation
import Synchronization

/// Blocking work (restore's removal of the old data dir) on a thread of its own, awaited later:
/// the cooperative pool has one thread per core, and a removal blocking one of them for seconds
/// would slow what runs meanwhile (the standby's start and its readiness poll).
final class OffThread: Sendable {
    private enum State {
        case running
        case awaited(CheckedContinuation<Void, any Error>)
        case done(Result<Void, any Error>)
    }

    private let state = Mutex<State>(.running)

    /// Starts `work` on a new thread.
    static func start(_ work: @escaping @Sendable () throws -> Void) -> OffThread {
        let job = OffThread()
        Thread { job.finish(Result { try work() }) }.start()
        return job
    }

    private func finish(_ result: Result<Void, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            defer { state = .done(result) }
            if case .awaited(let continuation) = state { return continuation }
            return nil
        }
        waiter?.resume(with: result)
    }

    /// Waits for the work to end and rethrows its error; call it once.
    func value() async throws {
        try await withCheckedThrowingContinuation { continuation in
            let ended = state.withLock { state -> Result<Void, any Error>? in
                if case .done(let result) = state { return result }
                state = .awaited(continuation)
                return nil
            }
            if let ended { continuation.resume(with: ended) }
        }
    }
}
