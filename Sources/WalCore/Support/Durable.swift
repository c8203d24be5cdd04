import Foundation

/// Durable file writes: temp name → fsync file → link/rename → fsync directory.
///
/// A crash leaves at most a temp file (`.NAME.walmgr-tmp`), which the next write of the same name
/// truncates and reuses under an exclusive lock.
public enum Durable {
    /// The outcome of a no-clobber store.
    public enum StoreResult: Sendable, Equatable {
        /// The file was written and is durable.
        case stored
        /// A file with identical content was already there.
        case alreadyPresent
    }

    /// Writes the bytes produced by `fill` to `path` unless it exists; an existing file must have
    /// identical content (compared by `sameContent`) or the store fails and the original is kept.
    /// - Parameters:
    ///   - fill: writes the content to the given descriptor (positioned at 0, empty).
    ///   - sameContent: compares an existing final file with the freshly written temp file.
    public static func storeNoClobber(
        at path: String, mode: mode_t = 0o600, fill: (Int32) throws -> Void,
        sameContent: (_ existing: String, _ written: String) throws -> Bool
    ) throws -> StoreResult {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = tempPath(for: path)
        let fd = try lockedTemp(tmp, mode: mode)
        defer { close(fd) }
        guard ftruncate(fd, 0) == 0 else { throw FileError("truncate", tmp) }
        do {
            try fill(fd)
            guard fsync(fd) == 0 else { throw FileError("fsync", tmp) }
        } catch {
            unlink(tmp)
            throw error
        }
        if link(tmp, path) != 0 {
            let err = errno
            guard err == EEXIST else {
                unlink(tmp)
                throw FileError("link \(tmp) to", path, errno: err)
            }
            defer { unlink(tmp) }
            guard try sameContent(path, tmp) else { throw DurableConflict(path: path) }
            return .alreadyPresent
        }
        unlink(tmp)
        try fsyncDirectory(dir)
        return .stored
    }

    /// Writes bytes to `path` atomically, replacing it (for state files and configs).
    public static func replace(_ bytes: [UInt8], at path: String, mode: mode_t = 0o600) throws {
        let tmp = tempPath(for: path)
        let fd = try lockedTemp(tmp, mode: mode)
        defer { close(fd) }
        guard ftruncate(fd, 0) == 0 else { throw FileError("truncate", tmp) }
        try writeAll(fd, bytes, path: tmp)
        guard fsync(fd) == 0 else { throw FileError("fsync", tmp) }
        guard rename(tmp, path) == 0 else { throw FileError("rename \(tmp) to", path) }
        try fsyncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// fsyncs a directory so a rename or link in it survives a crash.
    public static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open directory", dir) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError("fsync directory", dir) }
    }

    /// Writes every byte or throws.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// Writes a whole buffer or throws.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("write", path)
            }
            offset += n
        }
    }

    /// Copies all of `source` into `fd` (in the kernel when `source` is a file); returns the byte count.
    @discardableResult
    public static func copy(from source: Int32, to fd: Int32, sourcePath: String, path: String)
        throws -> Int
    {
        var total = 0
        while true {
            let n = sendfile(fd, source, nil, 1 << 30)
            if n > 0 {
                total += n
                continue
            }
            if n == 0 { return total }
            if errno == EINTR { continue }
            if errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP {
                return total
                    + (try copyByReading(from: source, to: fd, sourcePath: sourcePath, path: path))
            }
            throw FileError("copy \(sourcePath) to", path)
        }
    }

    private static func copyByReading(
        from source: Int32, to fd: Int32, sourcePath: String, path: String
    )
        throws -> Int
    {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("read", sourcePath)
            }
            if n == 0 { return total }
            try buffer.withUnsafeBytes {
                try writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: path)
            }
            total += n
        }
    }

    /// `DIR/.NAME.walmgr-tmp`: hidden, and never a valid WAL name.
    static func tempPath(for path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        return (dir.isEmpty ? "" : dir + "/") + ".\(name).walmgr-tmp"
    }

    /// Opens the temp file under an exclusive lock, making sure the path still names the locked
    /// inode (a previous holder may have renamed or removed it while we waited).
    private static func lockedTemp(_ tmp: String, mode: mode_t) throws -> Int32 {
        while true {
            let fd = open(tmp, O_RDWR | O_CREAT | O_CLOEXEC, mode)
            guard fd >= 0 else { throw FileError("create", tmp) }
            guard flock(fd, LOCK_EX) == 0 else {
                close(fd)
                throw FileError("lock", tmp)
            }
            var held = stat()
            var named = stat()
            if fstat(fd, &held) == 0, stat(tmp, &named) == 0, held.st_ino == named.st_ino,
                held.st_dev == named.st_dev
            {
                return fd
            }
            close(fd)
        }
    }
}

/// A different file already exists under the final name; it was left untouched.
public struct DurableConflict: WalmgrError {
    /// The existing file.
    public let path: String
    public var description: String {
        "\(path) already exists with different content; it was kept and nothing was overwritten. "
            + "Compare the two files: if the archived one is wrong, move it aside by hand"
    }
}
