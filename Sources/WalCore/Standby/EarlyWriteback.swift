import Foundation
import Synchronization

/// Flushes the file system of a directory every ``interval``, on a thread of its own, while a
/// copy writes into it (restore's `cp -a` into the staging dir): the copied data goes to disk
/// while the copy runs, on the other core, instead of all at once in the syncfs before the swap.
///
/// Only a head start: the syncfs before the swap (``RestoreCopy/swap(tablespaceTargets:)``)
/// still runs and is what makes the tree durable. A failed flush here is kept and thrown by
/// ``stop()``: the kernel reports a write-back error to the first syncfs that looks (it is then
/// marked seen, and a directory opened later is not told), so the syncfs before the swap would
/// return 0 over a lost write. Why the kernel does not do this by itself: its background write-out
/// starts at `dirty_background_ratio` (10% of RAM) or after `dirty_expire_centisecs` (30 s),
/// so a backup of a few GB is still all in memory when `cp` ends.
final class EarlyWriteback: Sendable {
    /// Time between flushes: the final syncfs finds at most this much of the copy unwritten.
    static let interval: Duration = .milliseconds(50)
    private let running = Atomic<Bool>(true)
    /// The first failed flush.
    private let failure = Mutex<(any Error)?>(nil)
    /// Signalled when the flushing thread has ended.
    private let ended = DispatchSemaphore(value: 0)
    private let directory: String
    private let flush: @Sendable (String) throws -> Void

    /// Starts flushing `directory` (with `flush`, syncfs by default) until ``stop()``.
    init(
        _ directory: String, every interval: Duration = interval,
        flush: @escaping @Sendable (String) throws -> Void = Durable.syncFileSystem
    ) {
        self.directory = directory
        self.flush = flush
        let seconds =
            Double(interval.components.seconds)
            + Double(interval.components.attoseconds) / 1e18
        Thread { [self] in
            defer { ended.signal() }
            while true {
                Thread.sleep(forTimeInterval: seconds)
                guard running.load(ordering: .acquiring) else { return }
                do { try self.flush(self.directory) } catch let error {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }.start()
    }

    /// Ends the flushing, once a flush under way has finished (its failure counts too).
    /// - Throws: the first flush's failure (a write of the copy may be lost).
    func stop() throws {
        running.store(false, ordering: .releasing)
        ended.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
