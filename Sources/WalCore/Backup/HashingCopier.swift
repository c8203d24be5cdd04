import Dispatch
import Foundation

/// Copies a file through two 1 MiB buffers and hashes it on a second thread: while chunk N is
/// hashed, chunk N+1 is read and written, so the SHA-256 of a backup costs no second read and
/// little extra time on a machine with a spare core.
///
/// `@unchecked Sendable` is safe here: `digest` is touched only by work items on the serial
/// `queue`, and the copying thread waits for the group before it reads `digest`, reuses a
/// buffer a work item may still read, or deallocates the buffers.
final class HashingCopier: @unchecked Sendable {
    private var digest = FileDigest()
    private let queue = DispatchQueue(label: "walmgr.backup-hash")
    private let group = DispatchGroup()
    private let buffers = (0..<2).map { _ in
        UnsafeMutableRawBufferPointer.allocate(byteCount: FileDigest.chunk, alignment: 16)
    }

    deinit {
        group.wait()
        buffers.forEach { $0.deallocate() }
    }

    /// Copies `source` to `fd` from the current offsets; returns the digest of the written bytes
    /// (the checksum is of the copy, even if the server changes the source meanwhile).
    func copy(from source: Int32, to fd: Int32, sourcePath: String, path: String) throws
        -> FileDigest
    {
        digest = FileDigest()
        defer { group.wait() }
        var writeback = Durable.Writeback(fd: fd)
        var index = 0
        while true {
            let buffer = buffers[index]
            let n = read(source, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("read", sourcePath)
            }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            try Durable.writeAll(fd, chunk, path: path)
            writeback.wrote(n)
            group.wait()  // the other buffer's chunk is hashed: it may be read into next
            nonisolated(unsafe) let handed = chunk
            queue.async(group: group) { self.digest.update(handed) }
            index ^= 1
        }
        group.wait()
        return digest
    }
}
