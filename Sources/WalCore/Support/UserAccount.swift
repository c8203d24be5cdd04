import Foundation

/// A local account, read from the password database.
public struct UserAccount: Sendable, Equatable {
    /// Login name.
    public let name: String
    /// User id.
    public let uid: uid_t
    /// Primary group id.
    public let gid: gid_t
    /// Home directory.
    public let home: String
    /// Supplementary groups.
    public let groups: [gid_t]

    /// Looks up an account by name; nil when it does not exist.
    public init?(name: String) {
        guard let pw = getpwnam(name) else { return nil }
        self.init(pw.pointee)
    }

    /// Looks up an account by uid; nil when it does not exist.
    public init?(uid: uid_t) {
        guard let pw = getpwuid(uid) else { return nil }
        self.init(pw.pointee)
    }

    private init(_ pw: passwd) {
        name = String(cString: pw.pw_name)
        uid = pw.pw_uid
        gid = pw.pw_gid
        home = String(cString: pw.pw_dir)
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: 64)
        if getgrouplist(pw.pw_name, pw.pw_gid, &list, &count) >= 0 {
            groups = Array(list.prefix(Int(count)))
        } else {
            groups = [pw.pw_gid]
        }
    }

    /// The user walmgr runs as ("uid N" when the account has no name).
    public static var currentName: String {
        UserAccount(uid: geteuid())?.name ?? "uid \(geteuid())"
    }

    /// The name of the group with this id, or its number.
    public static func groupName(_ gid: gid_t) -> String {
        guard let gr = getgrgid(gid) else { return "\(gid)" }
        return String(cString: gr.pointee.gr_name)
    }
}
