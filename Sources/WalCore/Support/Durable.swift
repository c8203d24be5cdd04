import CLinux
import Foundation

/// Durable file writes: temp name → fsync file → link/rename → fsync directory.
///
/// Each write has its own temp file (`.NAME.PID.RANDOM.walmgr-tmp`, see ``createTemp(for:mode:)``).
/// A crash leaves at most that temp file. A state file's next write removes its stale temps;
/// in completed_wals, where a directory scan per segment would cost more than the copy,
/// `xpurgewals` and `backup` remove them (``removeStaleTemps(in:prefix:)``).
public enum Durable {
    /// The outcome of a no-clobber store.
    public enum StoreResult: Sendable, Equatable {
        /// The file was written and is durable.
        case stored
        /// A file with identical content was already there; it is durable now too.
        case alreadyPresent
    }

    /// Writes the bytes produced by `fill` to `path` unless it exists; an existing file must be
    /// a regular file (a symlink is refused, never followed) with identical content (compared by
    /// `sameContent`) or the store fails and the original is kept.
    ///
    /// link() is the no-clobber step: of two concurrent stores of the same name, one links and
    /// the other finds the name taken and compares. An identical existing file is fsynced, with
    /// its directory, before `.alreadyPresent`: it may be the link of a run killed before its
    /// directory fsync.
    /// - Parameters:
    ///   - fill: writes the content to the given descriptor (positioned at 0, empty).
    ///   - sameContent: compares an existing final file with the freshly written temp file.
    public static func storeNoClobber(
        at path: String, mode: mode_t = 0o600, fill: (Int32) throws -> Void,
        sameContent: (_ existing: String, _ written: String) throws -> Bool
    ) throws -> StoreResult {
        // No stale-temp scan here: this is archive_command's path (see the type's comment).
        let (fd, tmp) = try createTemp(for: path, mode: mode)
        defer { close(fd) }
        do {
            try fill(fd)
            try sync(fd, path: tmp)
        } catch {
            unlink(tmp)
            throw error
        }
        if link(tmp, path) != 0 {
            let err = errno
            defer { unlink(tmp) }
            guard err == EEXIST else { throw FileError("link \(tmp) to", path, errno: err) }
            guard try regularFileExists(path) else {
                throw FileError("link \(tmp) to", path, errno: err)
            }
            guard try sameContent(path, tmp) else { throw DurableConflict(path: path) }
            try syncExisting(path)
            return .alreadyPresent
        }
        unlink(tmp)
        try fsyncDirectory((path as NSString).deletingLastPathComponent)
        return .stored
    }

    /// Writes bytes to `path` atomically, replacing it (for state files and configs).
    /// - Parameter durable: false for a hint that may be lost in a crash (readers still see the
    ///   old or the new content, never half): no fsync, which costs a journal commit (~10 ms).
    public static func replace(
        _ bytes: [UInt8], at path: String, mode: mode_t = 0o600, durable: Bool = true
    ) throws {
        removeStaleTemps(for: path)
        let (fd, tmp) = try createTemp(for: path, mode: mode)
        defer { close(fd) }
        do {
            try writeAll(fd, bytes, path: tmp)
            if durable { try sync(fd, path: tmp) }
            guard rename(tmp, path) == 0 else { throw FileError("rename \(tmp) to", path) }
        } catch {
            unlink(tmp)
            throw error
        }
        if durable { try fsyncDirectory((path as NSString).deletingLastPathComponent) }
    }

    /// fsyncs a directory so a rename or link in it survives a crash.
    public static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open directory", dir) }
        defer { close(fd) }
        try sync(fd, path: dir, what: "fsync directory")
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
        try copy(
            from: source, to: fd, sourcePath: sourcePath, path: path, writeback: writeback,
            send: { sendfile($1, $0, nil, $2) })
    }

    /// ``copy(from:to:sourcePath:path:writeback:)`` with sendfile(2) as `send` (input, output,
    /// at most this many bytes): a seam for tests.
    static func copy(
        from source: Int32, to fd: Int32, sourcePath: String, path: String, writeback: Bool,
        send: (Int32, Int32, Int) -> Int
    ) throws -> Int {
        var writeback = Writeback(fd: fd, enabled: writeback)
        while true {
            let n = send(source, fd, Writeback.step)
            if n > 0 {
                writeback.wrote(n)
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && !KernelCopy.unsupported(errno) {
                throw FileError("copy \(sourcePath) to", path)
            }
            if n == 0 {
                // Not always the end (see KernelCopy): one byte's read(2) says where it is.
                let more = try confirmEnd(source, to: fd, sourcePath: sourcePath, path: path)
                if more == 0 { return writeback.written }
                writeback.wrote(more)
            }
            // Bytes left after a 0, or files sendfile cannot copy between: read(2) goes on.
            try copyByReading(
                from: source, to: fd, sourcePath: sourcePath, path: path, writeback: &writeback)
            return writeback.written
        }
    }

    /// After a kernel copy returned 0: reads one byte of `source`. 0 means the end; else the
    /// byte is written to `fd` and 1 returned (the copy goes on by reading). One read(2) with
    /// no buffer to allocate, at the end of every copy (xarchive's once per segment).
    static func confirmEnd(_ source: Int32, to fd: Int32, sourcePath: String, path: String)
        throws -> Int
    {
        var byte: UInt8 = 0
        while true {
            let n = read(source, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileError("read", sourcePath) }
            if n == 0 { return 0 }
            try withUnsafeBytes(of: &byte) { try writeAll(fd, $0, path: path) }
            return 1
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

    /// `DIR/.NAME.walmgr-tmp`: a fixed temp name, for xrestore's output in pg_wal (PostgreSQL's
    /// directory, not walmgr's). walmgr's own dirs use ``createTemp(for:mode:)``.
    static func tempPath(for path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        return (dir.isEmpty ? "" : dir + "/") + ".\(name).walmgr-tmp"
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
