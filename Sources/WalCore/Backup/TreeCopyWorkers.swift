import Dispatch
import Foundation
import Synchronization

/// Copies the regular files that LocalTreeCopy's walk found on ``threads`` threads, largest
/// first from one shared queue: the disk wants several writes in flight, and one thread's
/// copy_file_range plus writeback keeps it at queue depth one. Each worker links an unchanged
/// file from the incremental base or copies it in the kernel, and hashes its own copies on a
/// CopyHasher of its own (so the copy never waits for a hash).
///
/// The first error in any worker is kept and stops the others before their next file or copy
/// step; cancellation of the calling task becomes that error (CancellationError), since worker
/// threads are not tasks. A worker always cancels its hasher before it closes an unfinished
/// output (CopyHasher's contract), and ``run()`` returns only after every worker and hash
/// thread has ended.
final class TreeCopyWorkers: Sendable {
    /// A regular file to copy: where from and to, its path in the manifest, its lstat.
    struct File: Sendable {
        let from: String
        let to: String
        let entry: String
        let stat: stat
    }

    /// What was copied or linked.
    struct Totals: Sendable {
        var bytes: Int64 = 0
        var files = 0
        var reusedFiles = 0
        var reusedBytes: Int64 = 0
        var entries: [BackupManifest.File] = []

        mutating func add(_ other: Totals) {
            bytes += other.bytes
            files += other.files
            reusedFiles += other.reusedFiles
            reusedBytes += other.reusedBytes
            entries += other.entries
        }
    }

    /// Copy threads (each with its hash thread). `walmgr backup` of a pgbench -s 50 data dir
    /// (807 MB: one 640 MB file, ~1000 small ones), copy phase, medians of 5–6 alternated
    /// rounds in three runs on 2 busy cores: 1 thread 1.08–1.19 s, 2 threads 0.77–0.96 s,
    /// 3 threads 0.78–0.95 s, 4 threads 0.81 s (one run); the previous one-thread copy
    /// 0.81–1.01 s. SHA-256 (1.8 GB/s) of the one big file on one hash thread bounds the copy,
    /// so a third thread buys nothing measurable. Hashing each step inline instead of on a
    /// hash thread was slower (3 threads 0.91 s against 0.78 s).
    static let threads = 2

    let files: [File]
    let checksums: Bool
    let base: IncrementalBase?
    /// How each step copies (``KernelCopy/copyRange``).
    let copyRange: KernelCopy.CopyRange
    private let next = Atomic<Int>(0)
    /// Set once `failure` holds the first error: the workers stop.
    private let stopped = Atomic<Bool>(false)
    private let failure = Mutex<(any Error)?>(nil)
    private let totals = Mutex(Totals())
    private let ended = DispatchSemaphore(value: 0)

    /// Workers for `files` (sorted here, largest first); `base` only with `checksums`.
    init(
        files: [File], checksums: Bool, base: IncrementalBase?,
        copyRange: @escaping KernelCopy.CopyRange = KernelCopy.copyFileRange
    ) {
        self.copyRange = copyRange
        self.files = files.sorted { $0.stat.st_size > $1.stat.st_size }
        self.checksums = checksums
        self.base = base
    }

    /// Copies every file and waits for all workers; returns the merged totals (entries in no
    /// particular order).
    /// - Throws: the first worker's error, or CancellationError when the task is cancelled.
    func run() throws -> Totals {
        let count = max(1, min(Self.threads, files.count))
        for index in 0..<count {
            let thread = Thread { [self] in
                work()
                ended.signal()
            }
            thread.name = "walmgr.backup-copy-\(index)"
            thread.start()
        }
        var running = count
        while running > 0 {
            // The only way to see the task's cancellation from a synchronous caller is to look:
            // every 20 ms while the workers run.
            if ended.wait(timeout: .now() + .milliseconds(20)) == .success {
                running -= 1
            } else if Task.isCancelled {
                fail(CancellationError())
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return totals.withLock { $0 }
    }

    /// Keeps `error` unless an earlier one is kept, then stops every worker.
    private func fail(_ error: any Error) {
        failure.withLock { $0 = $0 ?? error }
        stopped.store(true, ordering: .sequentiallyConsistent)
    }

    /// Throws when the copy stops (another worker failed, or the task was cancelled).
    private func checkStopped() throws {
        if stopped.load(ordering: .sequentiallyConsistent) { throw CancellationError() }
    }

    /// One worker: files from the queue until none is left or the copy stops.
    private func work() {
        // The hashers share the read-back budget a single one had (256 MiB, 64 files).
        let hasher =
            checksums
            ? CopyHasher(
                maxAhead: (256 << 20) / Int64(Self.threads), maxFiles: 64 / Self.threads)
            : nil
        var mine = Totals()
        do {
            while case let index = next.wrappingAdd(1, ordering: .relaxed).oldValue,
                index < files.count
            {
                try checkStopped()
                try copy(files[index], hasher: hasher, into: &mine)
            }
            if let hasher { mine.entries += try hasher.finish() }
        } catch {
            hasher?.cancel()
            return fail(error)
        }
        totals.withLock { $0.add(mine) }
    }

    /// Links `file` from the base when unchanged, else copies it (a vanished one is skipped).
    private func copy(_ file: File, hasher: CopyHasher?, into mine: inout Totals) throws {
        if let reused = linkUnchanged(file) {
            mine.add(reused)
            return
        }
        let input = open(file.from, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ENOENT { return }
            throw FileError("open", file.from)
        }
        defer { close(input) }
        // Read and write: the hash reads the copy back through this fd.
        let output = open(
            file.to, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, file.stat.st_mode & 0o7777
        )
        guard output >= 0 else { throw FileError("create", file.to) }
        var times = [file.stat.st_atim, file.stat.st_mtim]
        if let hasher {
            mine.bytes += try copyHashing(file, files: (input, output), hasher: hasher) {
                futimens(output, &times)
            }
        } else {
            defer { close(output) }
            mine.bytes += Int64(
                try Durable.copy(from: input, to: output, sourcePath: file.from, path: file.to))
            futimens(output, &times)
        }
        mine.files += 1
    }

    /// Copies one file in the kernel while `hasher` reads it back; `finish` runs on the output
    /// before it is handed over. On failure the hash stops before the output is closed.
    private func copyHashing(
        _ file: File, files: (input: Int32, output: Int32), hasher: CopyHasher,
        finish: () -> Void
    ) throws -> Int64 {
        let (input, output) = files
        do {
            let id = try hasher.add(fd: output, path: file.to, entry: file.entry)
            var copy = KernelCopy()
            copy.copyRange = copyRange
            var writeback = Durable.Writeback(fd: output)
            while case let n = try copy.next(
                from: input, to: output, sourcePath: file.from, path: file.to),
                n > 0
            {
                writeback.wrote(n)
                hasher.advance(id, by: n)
                try checkStopped()
            }
            finish()
            hasher.done(id)
            return Int64(writeback.written)
        } catch {
            hasher.cancel()
            close(output)
            throw error
        }
    }

    /// The entry of `file` linked from the base when it is unchanged there, else nil.
    private func linkUnchanged(_ file: File) -> Totals? {
        guard let base, let entry = base.reusable(file.entry, source: file.stat),
            base.link(file.entry, as: file.to)
        else { return nil }
        return Totals(
            bytes: entry.size, files: 1, reusedFiles: 1, reusedBytes: entry.size,
            entries: [entry])
    }
}
