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

    /// Creates an error from the current errno.
    public init(_ operation: String, _ path: String, errno: Int32 = Foundation.errno, hint: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        var text = "could not \(operation) \(path): \(String(cString: strerror(errno)))"
        switch errno {
        case EACCES, EPERM, EROFS:
            text += ". " + FileError.permissionAdvice(for: path)
        case ENOSPC, EDQUOT:
            text += ". The file system is full: free space there; nothing was written under the final name"
        default: break
        }
        if let hint { text += ". \(hint)" }
        return text
    }

    /// Describes who owns the nearest existing ancestor of `path` and how to make it writable.
    public static func permissionAdvice(for path: String) -> String {
        var probe = path
        var st = stat()
        while stat(probe, &st) != 0, probe != "/" {
            probe = (probe as NSString).deletingLastPathComponent
            if probe.isEmpty { probe = "/" }
        }
        let owner = UserAccount(uid: st.st_uid)?.name ?? "\(st.st_uid)"
        let group = UserAccount.groupName(st.st_gid)
        let mode = String(st.st_mode & 0o7777, radix: 8)
        let me = UserAccount.currentName
        return "\(probe) is owned by \(owner):\(group) with mode 0\(mode), and walmgr runs as "
            + "\(me); fix it with: chown \(me) \(probe) && chmod u+rwx \(probe)"
    }
}
