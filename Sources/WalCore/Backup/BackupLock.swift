import Foundation

/// The backup lock on the slave: `completed_wals/BACKUPLOCK` holding the holder's pid, host and
/// start time. One backup at a time; a lock whose holder is gone is taken over with a log line,
/// and a manual lock (a DBA's `xlock`) holds until `xrelease`.
public struct BackupLock: Sendable {
    /// Who holds the lock.
    public struct Holder: Sendable, Equatable {
        /// The pid of the walmgr that took it (on `host`).
        public var pid: Int32
        /// The host that pid lives on.
        public var host: String
        /// When it was taken (ISO 8601 UTC).
        public var since: String
        /// Taken by hand (`xlock` without a pid): held until `xrelease`, never stale.
        public var manual: Bool

        /// Creates a holder record.
        public init(pid: Int32, host: String, since: String, manual: Bool = false) {
            self.pid = pid
            self.host = host
            self.since = since
            self.manual = manual
        }

        /// A lock a DBA takes by hand; it records no pid.
        public static func manual(host: String, since: String) -> Holder {
            Holder(pid: 0, host: host, since: since, manual: true)
        }

        /// `pid=…` (`pid=manual` for a manual lock), `host=…`, `since=…` lines.
        public var rendered: String {
            "pid=\(manual ? "manual" : String(pid))\nhost=\(host)\nsince=\(since)\n"
        }

        /// Parses the lock file; walmgr3 wrote a bare pid, which is read with an unknown host.
        public static func parse(_ text: String) -> Holder? {
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            if fields.isEmpty, let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return Holder(pid: pid, host: "", since: "")
            }
            let host = fields["host"] ?? ""
            let since = fields["since"] ?? ""
            if fields["pid"] == "manual" { return .manual(host: host, since: since) }
            guard let pid = fields["pid"].flatMap({ Int32($0) }) else { return nil }
            return Holder(pid: pid, host: host, since: since)
        }
    }

    /// A lock older than this is stale even when its holder cannot be checked (another host).
    public static let staleAfter: TimeInterval = 48 * 3600

    /// The lock file.
    public let path: String

    /// The lock in a completed_wals directory.
    public init(completedWals: String) { path = "\(completedWals)/BACKUPLOCK" }

    /// This machine's host name.
    public static var hostName: String { ProcessInfo.processInfo.hostName }

    /// The current holder, if the lock file exists.
    public func holder() -> Holder? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return nil }
        return Holder.parse(text) ?? Holder(pid: 0, host: "", since: "")
    }

    /// Why a holder is stale, or nil when it may still be running.
    /// A manual lock (`xlock` without a pid) is never stale: it holds until `xrelease`.
    public func staleReason(_ holder: Holder, now: Date = Date()) -> String? {
        if holder.manual { return nil }
        if holder.host == Self.hostName || holder.host.isEmpty {
            if holder.pid <= 0 { return "it names no process" }
            // A zombie holder has exited: it finishes nothing and releases nothing.
            if ProcessLiveness.isGone(holder.pid) { return "process \(holder.pid) is gone" }
            return nil
        }
        if let since = ISO8601DateFormatter().date(from: holder.since),
            now.timeIntervalSince(since) < Self.staleAfter
        {
            return nil
        }
        return "it is older than \(Int(Self.staleAfter / 3600)) hours"
    }

    /// Takes the lock for `holder`, taking over a stale one. Check and write happen under
    /// `flock` on the lock file, so of several concurrent takers of a stale lock one wins.
    /// - Throws: ``BackupError/locked(path:holder:)`` when a live backup or a manual lock holds it.
    public func acquire(_ holder: Holder, log: Log) throws {
        try withLockedFile(create: true) { fd in
            if let current = try Self.read(fd, path: path) {
                guard let reason = staleReason(current) else {
                    throw BackupError.locked(path: path, holder: current)
                }
                log.warning(
                    "taking over the stale backup lock \(path) of pid \(current.pid) on "
                        + "\(current.host.isEmpty ? "an unknown host" : current.host): \(reason)")
            }
            guard ftruncate(fd, 0) == 0 else { throw FileError("truncate", path) }
            try Durable.writeAll(fd, Array(holder.rendered.utf8), path: path)
            guard fsync(fd) == 0 else { throw FileError("fsync", path) }
            try Durable.fsyncDirectory((path as NSString).deletingLastPathComponent)
        }
    }

    /// Removes the lock; with `pid`, only when that pid holds it.
    /// - Returns: false when the lock was absent or held by someone else.
    @discardableResult
    public func release(pid: Int32? = nil) throws -> Bool {
        let released = try withLockedFile(create: false) { fd -> Bool in
            guard let current = try Self.read(fd, path: path) else { return false }
            if let pid, current.pid != pid || current.manual { return false }
            guard unlink(path) == 0 || errno == ENOENT else { throw FileError("remove", path) }
            return true
        }
        guard released == true else { return false }
        try Durable.fsyncDirectory((path as NSString).deletingLastPathComponent)
        return true
    }

    /// Runs `body` holding `flock` on the lock file, making sure the path still names the
    /// locked inode (a releaser may have removed it while we waited). Nil when the file is
    /// absent and `create` is false.
    private func withLockedFile<T>(create: Bool, _ body: (Int32) throws -> T) throws -> T? {
        while true {
            let flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0)
            let fd = open(path, flags, 0o600)
            if fd < 0 {
                if errno == ENOENT && !create { return nil }
                throw FileError(create ? "create" : "open", path)
            }
            defer { close(fd) }
            guard flock(fd, LOCK_EX) == 0 else { throw FileError("lock", path) }
            var held = stat()
            var named = stat()
            guard fstat(fd, &held) == 0, lstat(path, &named) == 0, held.st_ino == named.st_ino,
                held.st_dev == named.st_dev
            else { continue }
            return try body(fd)
        }
    }

    /// The holder recorded in the open lock file; nil when it is empty (free).
    private static func read(_ fd: Int32, path: String) throws -> Holder? {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw FileError("read", path) }
        let text = String(decoding: bytes[0..<count], as: UTF8.self)
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return nil }
        return Holder.parse(text) ?? Holder(pid: 0, host: "", since: "")
    }
}
