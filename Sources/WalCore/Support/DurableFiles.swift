import Foundation

/// The file-level rules of walmgr's own directories: temp files with unique names made with
/// O_EXCL|O_NOFOLLOW, no symlink ever followed, and every fsync through one function.
extension Durable {
    /// Test seam: called with the path of every fsync done through ``sync(_:path:)`` (files and
    /// directories). A task-local, so parallel tests each see only their own calls; nil (and
    /// free) in walmgr itself. fsync cannot be observed from outside without crashing a disk, so
    /// tests check that the calls were made.
    @TaskLocal public static var fsyncObserver: (@Sendable (String) -> Void)? = nil

    /// fsyncs `fd` (the file or directory at `path`) or throws.
    static func sync(_ fd: Int32, path: String, what: String = "fsync") throws {
        guard fsync(fd) == 0 else { throw FileError(what, path) }
        fsyncObserver?(path)
    }

    /// Creates a new temp file next to `path`: `DIR/.NAME.PID.RANDOM.walmgr-tmp`, hidden and
    /// never a valid WAL name. O_EXCL|O_NOFOLLOW: it is always a fresh inode, never a file or
    /// symlink someone planted under a name walmgr would have guessed.
    static func createTemp(for path: String, mode: mode_t) throws -> (fd: Int32, path: String) {
        let prefix = tempPrefix(for: path)
        var lastError = EEXIST
        for _ in 0..<16 {
            let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            let tmp = "\(prefix)\(getpid()).\(random)\(tempSuffix)"
            let fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd >= 0 { return (fd, tmp) }
            lastError = errno
            guard lastError == EEXIST else { throw FileError("create", tmp) }
        }
        throw FileError("create a temp file for", path, errno: lastError)
    }

    static let tempSuffix = ".walmgr-tmp"

    /// `DIR/.NAME.`: what every temp file of `path` starts with.
    static func tempPrefix(for path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        return (dir.isEmpty ? "" : dir + "/") + ".\(name)."
    }

    /// Removes the temp files of `path` whose writer is gone (killed mid-write): the PID in the
    /// name no longer runs. A live writer's temp is left alone. Also removes the fixed-name
    /// `.NAME.walmgr-tmp` of earlier walmgr versions. For state files in small directories.
    static func removeStaleTemps(for path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        removeStaleTemps(in: dir, prefix: ".\(name).")
    }

    /// Removes every temp file in `dir` whose writer is gone, as ``removeStaleTemps(for:)``
    /// does for one name. Not on the archiving path, which would read the whole directory for
    /// each segment (about 40 ms with 100 000 archived files): `xpurgewals` and `backup`, which
    /// read completed_wals anyway, call it.
    /// - Returns: the number of temp files removed.
    @discardableResult
    static func removeStaleTemps(in dir: String, prefix: String = ".") -> Int {
        guard let stream = opendir(dir.isEmpty ? "." : dir) else { return 0 }
        defer { closedir(stream) }
        var removed = 0
        while let entry = readdir(stream) {
            // Most entries (WAL files) do not start with "." and are skipped without a String.
            guard entry.pointee.d_name.0 == 0x2E else { continue }
            let file = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard file.hasPrefix(prefix), file.hasSuffix(tempSuffix), isStaleTemp(file) else {
                continue
            }
            if unlink((dir.isEmpty ? "" : dir + "/") + file) == 0 { removed += 1 }
        }
        return removed
    }

    /// True for `.NAME.PID.RANDOM.walmgr-tmp` whose PID is gone, and for the fixed-name
    /// `.NAME.walmgr-tmp` of earlier walmgr versions (any temp name without a PID part).
    static func isStaleTemp(_ file: String) -> Bool {
        let parts = file.dropFirst().dropLast(tempSuffix.count).split(
            separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = pid_t(parts[parts.count - 2]),
            UInt32(parts[parts.count - 1], radix: 16) != nil
        else { return true }
        return ProcessLiveness.isGone(pid)
    }

    /// Opens a file in walmgr's own dirs without following a symlink: a symlink, FIFO, device
    /// or directory there is refused with ``NotARegularFile``. O_NONBLOCK only keeps a FIFO
    /// from blocking the open; it changes nothing for a regular file.
    static func openRegular(_ path: String, flags: Int32 = O_RDONLY, mode: mode_t = 0o600) throws
        -> Int32
    {
        let fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == ELOOP { throw NotARegularFile(path: path, kind: "a symbolic link") }
            throw FileError("open", path)
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw NotARegularFile(path: path, kind: NotARegularFile.kind(st.st_mode))
        }
        return fd
    }

    /// True when `path` is a regular file, false when nothing is there (lstat: a symlink is
    /// never followed); anything else is refused with ``NotARegularFile``.
    static func regularFileExists(_ path: String) throws -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            guard errno == ENOENT else { throw FileError("stat", path) }
            return false
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw NotARegularFile(path: path, kind: NotARegularFile.kind(st.st_mode))
        }
        return true
    }

    /// Makes an existing file and its directory entry durable. A store that finds its file
    /// already there calls this before it reports success: a run killed between link() and the
    /// directory fsync leaves a name that may not be on disk yet, and the retry must not
    /// report it safe (PostgreSQL then recycles the segment).
    static func syncExisting(_ path: String) throws {
        let fd = try openRegular(path)
        defer { close(fd) }
        try sync(fd, path: path)
        try fsyncDirectory((path as NSString).deletingLastPathComponent)
    }
}

/// Something other than a regular file (a symlink, a directory, a FIFO) is where walmgr keeps
/// its own files. It was not followed, read or written.
public struct NotARegularFile: WalmgrError {
    /// The path.
    public let path: String
    /// What is there: "a symbolic link", "a directory", ….
    public let kind: String

    public var description: String {
        "\(path) is \(kind), not a regular file. walmgr never follows symbolic links in its own "
            + "directories and wrote nothing through it. Find out who made it; if it stands for "
            + "a real file, put that file there in its place (mv), otherwise remove it"
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: return "a symbolic link"
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR, S_IFBLK: return "a device"
        default: return "a file of unknown type"
        }
    }
}
