import CLinux
import Foundation

/// Copies a file step by step without passing the bytes through walmgr: copy_file_range(2),
/// else sendfile(2) (copy_file_range refuses some pairs of file systems), else read and write.
/// Both files' offsets advance, so the methods can take over from each other mid-file.
struct KernelCopy {
    /// How the next step copies.
    enum Method { case copyFileRange, sendfile, readWrite }

    /// Bytes per step: large enough that the calls cost nothing, small enough that a reader
    /// following the copy (CopyHasher) is never far behind.
    static let step = 4 << 20
    private(set) var method: Method = .copyFileRange
    /// copy_file_range(2) itself (input, output, at most this many bytes); a seam for tests.
    var copyRange: CopyRange = Self.copyFileRange
    typealias CopyRange = @Sendable (Int32, Int32, Int) -> Int
    static let copyFileRange: CopyRange = { walmgr_copy_file_range($0, $1, UInt($2)) }

    /// Copies the next step from `input` to `output`; returns the bytes copied, 0 at the end
    /// of `input` (`sourcePath` and `path` name them in errors).
    mutating func next(from input: Int32, to output: Int32, sourcePath: String, path: String)
        throws -> Int
    {
        while true {
            let n: Int
            switch method {
            case .copyFileRange: n = copyRange(input, output, Self.step)
            case .sendfile: n = sendfile(output, input, nil, Self.step)
            case .readWrite: return try readWrite(from: input, to: output, sourcePath, path)
            }
            if n > 0 { return n }
            if n == 0 {
                // Not always the end: both calls have returned 0 with bytes left on some file
                // systems and kernels (FUSE, network and proc-like files), and a backup would
                // then record a short file as complete. read(2) says where the end is.
                let more = try Durable.confirmEnd(
                    input, to: output, sourcePath: sourcePath, path: path)
                if more > 0 { method = .readWrite }
                return more
            }
            if errno == EINTR { continue }
            guard Self.unsupported(errno) else { throw FileError("copy \(sourcePath) to", path) }
            method = method == .copyFileRange ? .sendfile : .readWrite
        }
    }

    /// The errors that mean "this call cannot copy between these files", not a failed copy.
    static func unsupported(_ code: Int32) -> Bool {
        code == EXDEV || code == EINVAL || code == ENOSYS || code == EOPNOTSUPP
    }

    private func readWrite(
        from input: Int32, to output: Int32, _ sourcePath: String, _ path: String
    )
        throws -> Int
    {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(input, buffer.baseAddress, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileError("read", sourcePath) }
            try Durable.writeAll(
                output, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: path)
            return n
        }
    }
}
