import CLinux
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

    /// Flushes the whole file system holding `dir` (syncfs(2)): every file a copy wrote there,
    /// in one call instead of an fsync per file.
    public static func syncFileSystem(_ dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open directory", dir) }
        defer { close(fd) }
        guard walmgr_syncfs(fd) == 0 else { throw FileError("syncfs", dir) }
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

    /// Copies all of `source` into `fd` (in the kernel when `source` is a file); returns the
    /// byte count. With `writeback` (for files that will be fsynced) the disk writes start as
    /// the copy goes.
    @discardableResult
    public static func copy(
        from source: Int32, to fd: Int32, sourcePath: String, path: String, writeback: Bool = true
    ) throws -> Int {
        var writeback = Writeback(fd: fd, enabled: writeback)
        while true {
            let n = sendfile(fd, source, nil, Writeback.step)
            if n > 0 {
                writeback.wrote(n)
                continue
            }
            if n == 0 { return writeback.written }
            if errno == EINTR { continue }
            if errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP {
                try copyByReading(
                    from: source, to: fd, sourcePath: sourcePath, path: path,
                    writeback: &writeback)
                return writeback.written
            }
            throw FileError("copy \(sourcePath) to", path)
        }
    }

    private static func copyByReading(
        from source: Int32, to fd: Int32, sourcePath: String, path: String,
        writeback: inout Writeback
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Writeback.step, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(source, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("read", sourcePath)
            }
            if n == 0 { return }
            try writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: path)
            writeback.wrote(n)
        }
    }

    /// Starts the disk writes of a file that will be fsynced, every ``step`` bytes
    /// (sync_file_range(2) with SYNC_FILE_RANGE_WRITE, which does not wait). The final fsync
    /// then waits for the last step instead of the whole file: a 16 MiB segment's copy and its
    /// write to disk overlap. Only a hint: where the call is unsupported the fsync does it all.
    public struct Writeback {
        /// Bytes between hints; also the copy chunk.
        static let step = 1 << 20
        let fd: Int32
        let enabled: Bool
        /// Bytes written so far.
        public private(set) var written = 0
        private var started = 0

        /// Tracks writes to `fd`, which must start empty; when not `enabled` it only counts.
        public init(fd: Int32, enabled: Bool = true) {
            self.fd = fd
            self.enabled = enabled
        }

        /// Records `count` more bytes written; starts their write-out once a step is pending.
        public mutating func wrote(_ count: Int) {
            written += count
            guard enabled, written - started >= Self.step else { return }
            _ = walmgr_start_writeback(fd, Int64(started), Int64(written - started))
            started = written
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
