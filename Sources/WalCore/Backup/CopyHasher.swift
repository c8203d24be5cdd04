import Foundation

/// Hashes the files of a tree copy on a thread of its own, in the order they are copied, by
/// reading each copy back while the copy goes on: the copying thread moves bytes in the kernel
/// (copy_file_range) and never waits for the hash of a file before the next, and the hash is
/// of the bytes in the backup, read from the page cache they were just written to.
///
/// The copier announces each output file with ``add(fd:path:entry:)``, reports progress with
/// ``advance(_:by:)`` and hands the fd over with ``done(_:)`` (from then on this hasher closes
/// it); ``finish()`` waits for the last hash. A copier that fails calls ``cancel()`` before it
/// closes its unfinished output, so no read ever meets a closed or reused fd. The copier stops
/// while it is more than ``maxAhead`` bytes or ``maxFiles`` files ahead of the hash, so what is
/// read back is still in memory and open files stay few.
///
/// `@unchecked Sendable`: every field but the hash thread's own buffer is touched only with
/// `condition` locked.
final class CopyHasher: @unchecked Sendable {
    /// One file being copied and hashed.
    private struct Pending {
        let fd: Int32
        let path: String
        let entry: String
        var copied: Int64 = 0
        var done = false
    }

    private let condition = NSCondition()
    private var pending: [Int: Pending] = [:]
    private var nextID = 0
    private var copiedTotal: Int64 = 0
    private var hashedTotal: Int64 = 0
    private var closed = false
    private var stopped = false
    private var failure: (any Error)?
    private var entries: [BackupManifest.File] = []
    private var running = true
    let maxAhead: Int64
    let maxFiles: Int

    /// Starts the hash thread.
    init(maxAhead: Int64 = 256 << 20, maxFiles: Int = 64) {
        self.maxAhead = maxAhead
        self.maxFiles = maxFiles
        let thread = Thread { [self] in hashAll() }
        thread.name = "walmgr.backup-hash"
        thread.start()
    }

    /// Hands over a new output file (`fd`, opened for reading too; `path` for errors) recorded
    /// as `entry` in the manifest; waits while the copy is too far ahead of the hash.
    /// - Throws: the hash's failure, if one happened (the copy should stop).
    func add(fd: Int32, path: String, entry: String) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && (pending.count >= maxFiles || copiedTotal - hashedTotal > maxAhead) {
            condition.wait()
        }
        if let failure { throw failure }
        let id = nextID
        nextID += 1
        pending[id] = Pending(fd: fd, path: path, entry: entry)
        condition.broadcast()
        return id
    }

    /// `count` more bytes of file `id` are in its output; waits while the copy is too far ahead.
    func advance(_ id: Int, by count: Int) {
        condition.lock()
        defer { condition.unlock() }
        pending[id]?.copied += Int64(count)
        copiedTotal += Int64(count)
        condition.broadcast()
        while !stopped && copiedTotal - hashedTotal > maxAhead { condition.wait() }
    }

    /// File `id` is complete: its fd belongs to the hasher now (closed here when the hash
    /// thread has already stopped).
    func done(_ id: Int) {
        condition.lock()
        defer { condition.unlock() }
        guard running, pending[id] != nil else {
            if let file = pending.removeValue(forKey: id) { close(file.fd) }
            return
        }
        pending[id]?.done = true
        condition.broadcast()
    }

    /// Waits for every hash; returns the files in the order they were added.
    /// - Throws: the first failure of the hash (a read error, a copy that changed under it).
    func finish() throws -> [BackupManifest.File] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.broadcast()
        while running { condition.wait() }
        if let failure { throw failure }
        return entries
    }

    /// Stops hashing (the copy failed); every open output is closed before it returns.
    func cancel() {
        condition.lock()
        defer { condition.unlock() }
        stopped = true
        condition.broadcast()
        while running { condition.wait() }
    }
}

extension CopyHasher {
    /// The hash thread: each file in order until ``finish()`` or ``cancel()``, then closes
    /// whatever is still open.
    private func hashAll() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: FileDigest.chunk, alignment: 16)
        defer { buffer.deallocate() }
        var id = 0
        while let file = nextFile(id) {
            let digest = Result { try hash(id, file, buffer: buffer) }
            condition.lock()
            switch digest {
            case .success(let digest):
                entries.append(.init(path: file.entry, size: digest.count, sha256: digest.hex()))
                pending[id] = nil
                close(file.fd)
            case .failure(let error):
                failure = failure ?? error
                stopped = true
            }
            condition.broadcast()
            condition.unlock()
            id += 1
        }
        condition.lock()
        // Only finished copies are the hasher's to close; the copier closes the others.
        for (key, file) in pending where file.done {
            close(file.fd)
            pending[key] = nil
        }
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// File `id` once added, or nil when there is none to come or the hash stopped.
    private func nextFile(_ id: Int) -> Pending? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && pending[id] == nil && !(closed && id >= nextID) { condition.wait() }
        return stopped ? nil : pending[id]
    }

    /// Hashes file `id` as its copy advances, until it is done.
    private func hash(_ id: Int, _ file: Pending, buffer: UnsafeMutableRawBufferPointer)
        throws -> FileDigest
    {
        var digest = FileDigest()
        while true {
            guard let (copied, done) = progress(id, hashed: digest.count) else {
                throw CancellationError()
            }
            if digest.count == copied && done { return digest }
            try read(file, from: digest.count, to: copied, into: buffer, digest: &digest)
        }
    }

    /// Waits until file `id` has bytes past `hashed` or is done; nil when stopped.
    private func progress(_ id: Int, hashed: Int64) -> (Int64, Bool)? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped, let file = pending[id], file.copied == hashed, !file.done {
            condition.wait()
        }
        guard !stopped, let file = pending[id] else { return nil }
        return (file.copied, file.done)
    }

    /// Reads `file` from `start` to `end` back and hashes it; a short read means the copy
    /// changed under the hash (it never should: only the copier writes it).
    private func read(
        _ file: Pending, from start: Int64, to end: Int64,
        into buffer: UnsafeMutableRawBufferPointer, digest: inout FileDigest
    ) throws {
        var offset = start
        while offset < end {
            let n = pread(
                file.fd, buffer.baseAddress, min(buffer.count, Int(end - offset)), off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw FileError(
                    "read back", file.path, errno: n == 0 ? EIO : errno,
                    hint: "the copy is shorter than what was written to it")
            }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += Int64(n)
            condition.lock()
            hashedTotal += Int64(n)
            condition.broadcast()
            condition.unlock()
        }
    }
}
