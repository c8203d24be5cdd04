import Foundation

/// The backup lock on the slave: `completed_wals/BACKUPLOCK` holding the holder's pid, host and
/// start time. One backup at a time; a lock whose holder is gone is taken over with a log line.
public struct BackupLock: Sendable {
    /// Who holds the lock.
    public struct Holder: Sendable, Equatable {
        /// The pid of the walmgr that took it (on `host`).
        public var pid: Int32
        /// The host that pid lives on.
        public var host: String
        /// When it was taken (ISO 8601 UTC).
        public var since: String

        /// Creates a holder record.
        public init(pid: Int32, host: String, since: String) {
            self.pid = pid
            self.host = host
            self.since = since
        }

        /// `pid=…`, `host=…`, `since=…` lines.
        public var rendered: String { "pid=\(pid)\nhost=\(host)\nsince=\(since)\n" }

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
            guard let pid = fields["pid"].flatMap({ Int32($0) }) else { return nil }
            return Holder(pid: pid, host: fields["host"] ?? "", since: fields["since"] ?? "")
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
        return Holder.parse(String(decoding: data, as: UTF8.self))
            ?? Holder(pid: 0, host: "", since: "")
    }

    /// Why a holder is stale, or nil when it may still be running.
    public func staleReason(_ holder: Holder, now: Date = Date()) -> String? {
        if holder.host == Self.hostName || holder.host.isEmpty {
            if holder.pid <= 0 || (kill(holder.pid, 0) != 0 && errno == ESRCH) {
                return "process \(holder.pid) is gone"
            }
            return nil
        }
        if let since = ISO8601DateFormatter().date(from: holder.since),
            now.timeIntervalSince(since) < Self.staleAfter
        {
            return nil
        }
        return "it is older than \(Int(Self.staleAfter / 3600)) hours"
    }

    /// Takes the lock for `holder`, taking over a stale one.
    /// - Throws: ``BackupError/locked(path:holder:)`` when a live backup holds it.
    public func acquire(_ holder: Holder, log: Log) throws {
        for _ in 0..<3 {
            if try create(holder) { return }
            guard let current = self.holder() else { continue }
            guard let reason = staleReason(current) else {
                throw BackupError.locked(path: path, holder: current)
            }
            log.warning(
                "taking over the stale backup lock \(path) of pid \(current.pid) on "
                    + "\(current.host.isEmpty ? "an unknown host" : current.host): \(reason)")
            unlink(path)
        }
        throw BackupError.locked(path: path, holder: self.holder() ?? holder)
    }

    /// Removes the lock; with `pid`, only when that pid holds it.
    /// - Returns: false when the lock was absent or held by someone else.
    @discardableResult
    public func release(pid: Int32? = nil) throws -> Bool {
        guard let current = holder() else { return false }
        if let pid, current.pid != pid { return false }
        guard unlink(path) == 0 || errno == ENOENT else { throw FileError("remove", path) }
        try Durable.fsyncDirectory((path as NSString).deletingLastPathComponent)
        return true
    }

    /// Creates the lock file exclusively; false when it already exists.
    private func create(_ holder: Holder) throws -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw FileError("create", path)
        }
        defer { close(fd) }
        try Durable.writeAll(fd, Array(holder.rendered.utf8), path: path)
        guard fsync(fd) == 0 else { throw FileError("fsync", path) }
        try Durable.fsyncDirectory((path as NSString).deletingLastPathComponent)
        return true
    }
}
