import Foundation

/// A file-system operation failed; the message names the path, its owner and mode, and the user.
public struct FileError: WalmgrError {
    /// What walmgr tried to do ("create", "write", "rename", …).
    public let operation: String
    /// The path it failed on.
    public let path: String
    /// errno at the failure.
    public let errno: Int32
    /// Extra advice, when walmgr knows better than the generic hint.
    public let hint: String?
    /// True for a failed mkdir: the advice creates that directory rather than chowning the
    /// parent (which may be /etc or /var/lib).
    public private(set) var createsDirectory = false

    /// Creates an error from the current errno.
    public init(
        _ operation: String, _ path: String, errno: Int32 = Foundation.errno, hint: String? = nil
    ) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        var text = "could not \(operation) \(path): \(String(cString: strerror(errno)))"
        switch errno {
        case EACCES, EPERM, EROFS:
            text +=
                ". "
                + (createsDirectory
                    ? FileError.mkdirAdvice(for: path) : FileError.permissionAdvice(for: path))
        case ENOSPC, EDQUOT:
            text +=
                ". The file system is full: free space there; nothing was written under the final name"
        default: break
        }
        if let hint { text += ". \(hint)" }
        return text
    }

    /// A failed `mkdir` of `path` (errno from the call).
    public static func mkdirFailed(_ path: String, errno: Int32 = Foundation.errno) -> FileError {
        var error = FileError("create", path, errno: errno)
        error.createsDirectory = true
        return error
    }

    /// Who owns the parent of the directory that could not be created, and the commands that
    /// create it for walmgr's user; never a chown of the parent.
    public static func mkdirAdvice(for path: String) -> String {
        let found = FileOwnership.nearest(path)
        let me = UserAccount.currentName
        return "\(found.path) is owned by \(found.owner):\(found.group) with mode "
            + "\(found.modeText), and walmgr runs as \(me); fix it with: "
            + FileOwnership.createFix(path, parent: found, for: me)
    }

    /// Describes who owns the nearest existing ancestor of `path` and how to make it writable.
    public static func permissionAdvice(for path: String) -> String {
        let found = FileOwnership.nearest(path)
        let me = UserAccount.currentName
        return "\(found.path) is owned by \(found.owner):\(found.group) with mode "
            + "\(found.modeText), and walmgr runs as \(me); fix it with: \(found.fix(for: me))"
    }
}

/// Who owns a path and with what mode, for messages that end in the exact chown/chmod to run.
public struct FileOwnership: Sendable, Equatable {
    /// The path that was examined (the nearest existing ancestor when asked with `nearest`).
    public let path: String
    /// Owner name (or uid).
    public let owner: String
    /// Group name (or gid).
    public let group: String
    /// Permission bits.
    public let mode: mode_t
    /// True when the owner is the user walmgr runs as.
    public let ownedByMe: Bool

    /// `0755`-style mode.
    public var modeText: String { "0" + String(mode & 0o7777, radix: 8) }

    /// Reads `path` with stat; nil when it does not exist.
    public init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        self.path = path
        owner = UserAccount(uid: st.st_uid)?.name ?? "\(st.st_uid)"
        group = UserAccount.groupName(st.st_gid)
        mode = st.st_mode
        ownedByMe = st.st_uid == geteuid()
    }

    /// The nearest existing ancestor of `path` (or `path` itself).
    public static func nearest(_ path: String) -> FileOwnership {
        var probe = path
        while true {
            if let found = FileOwnership(probe) { return found }
            if probe == "/" || probe.isEmpty { break }
            probe = (probe as NSString).deletingLastPathComponent
            if probe.isEmpty { probe = "/" }
        }
        return FileOwnership(path: "/", owner: "root", group: "root", mode: 0o755, ownedByMe: false)
    }

    init(path: String, owner: String, group: String, mode: mode_t, ownedByMe: Bool) {
        self.path = path
        self.owner = owner
        self.group = group
        self.mode = mode
        self.ownedByMe = ownedByMe
    }

    /// The exact command that makes the path writable by `user`: a chmod when `user` owns it
    /// already, otherwise a chown (as root) to `user` and their primary group.
    public func fix(for user: String) -> String {
        let quoted = ShellWords.quote(path)
        if ownedByMe { return "chmod u+rwx \(quoted)" }
        let group = UserAccount(name: user).map { UserAccount.groupName($0.gid) } ?? user
        let chmod = mode & 0o700 == 0o700 ? "" : " && chmod u+rwx \(quoted)"
        return "chown -R \(user):\(group) \(quoted)\(chmod) (as root)"
    }

    /// The command that makes the missing directory `path` for `user` when its nearest existing
    /// ancestor `parent` is not writable: a chmod when `user` owns the parent, otherwise
    /// `mkdir -p` and a chown of `path` alone (chowning /etc or /var/lib would be wrong).
    public static func createFix(_ path: String, parent: FileOwnership, for user: String)
        -> String
    {
        if parent.ownedByMe { return parent.fix(for: user) }
        let quoted = ShellWords.quote(path)
        return "mkdir -p \(quoted) && chown \(user): \(quoted) (as root)"
    }
}
