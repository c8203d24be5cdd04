import Foundation

/// Decides whether walmgr may move or remove a directory: never `/`, a home directory, a
/// directory walmgr must keep (or one of its ancestors), a data dir whose postmaster runs, or
/// a directory holding such a data dir or a tablespace a live server uses.
///
/// restore's swap and cleanup ask it about every target before they change anything, so a
/// refusal leaves everything as it was. Paths are compared after resolving symlinks and
/// trailing slashes: `/home/pg/` and a symlink to `/home/pg` are `/home/pg`.
struct TargetGuard: Sendable {
    /// A directory that must survive, with the key (or role) that names it in messages.
    struct Kept: Sendable, Equatable {
        /// `slave_data`, `walmgr_data`, …
        let key: String
        /// Its path as configured.
        let path: String
    }

    /// Must survive with their contents: a target may be neither one of them nor an ancestor.
    let keep: [Kept]
    /// Their ancestors must survive; the directory itself may be replaced (slave_data by restore).
    let keepAbove: [Kept]
    /// Home directories: the running user's (password database) and `$HOME`.
    let homes: [String]

    init(keep: [Kept], keepAbove: [Kept] = [], homes: [String] = Self.currentHomes) {
        self.keep = keep.filter { !$0.path.isEmpty }
        self.keepAbove = keepAbove.filter { !$0.path.isEmpty }
        self.homes = homes.filter { !$0.isEmpty }
    }

    /// The running user's home and `$HOME` (they differ under `sudo -u` or a service manager).
    static var currentHomes: [String] {
        [UserAccount(uid: geteuid())?.home, ProcessInfo.processInfo.environment["HOME"]]
            .compactMap { $0 }
    }

    /// Throws unless `path` may be moved aside or removed.
    /// - Parameter purpose: what walmgr is doing, for the message ("restore into", "cleanup").
    func check(_ path: String, purpose: String) throws {
        try checkPlace(path, purpose: purpose)
        try checkNotRunning(path, purpose: purpose)
        if let server = LiveServers.usingTablespace(path) {
            throw TargetRefusal(
                path: path, purpose: purpose,
                reason: .tablespace(pid: server.pid, dataDir: server.dataDir))
        }
        if let server = LiveServers.inside(path) {
            throw TargetRefusal(
                path: path, purpose: purpose,
                reason: .holdsServer(pid: server.pid, dataDir: server.dataDir))
        }
    }

    /// Throws when `path` is `/`, a home directory, or holds something to keep.
    func checkPlace(_ path: String, purpose: String) throws {
        if let reason = placeRefusal(path) {
            throw TargetRefusal(path: path, purpose: purpose, reason: reason)
        }
    }

    /// Throws when `path/postmaster.pid` names a live process.
    func checkNotRunning(_ path: String, purpose: String) throws {
        let pidFile = PostmasterPidFile(dataDir: path)
        guard let pid = pidFile.livePID else { return }
        throw TargetRefusal(
            path: path, purpose: purpose,
            reason: .running(pid: pid, pidFile: pidFile.path, dataDir: pidFile.dataDir))
    }

    /// Why `path` is no place to remove, or nil when it may go.
    func placeRefusal(_ path: String) -> TargetRefusal.Reason? {
        let target = Self.resolved(path)
        if target == "/" { return .root }
        if let home = homes.first(where: { Self.resolved($0) == target }) { return .home(home) }
        for kept in keep {
            let resolved = Self.resolved(kept.path)
            if resolved == target || Self.isAncestor(target, of: resolved) {
                return .holds(kept)
            }
        }
        for kept in keepAbove where Self.isAncestor(target, of: Self.resolved(kept.path)) {
            return .holds(kept)
        }
        return nil
    }

    /// True when `ancestor` is a proper ancestor of `path` (both resolved).
    static func isAncestor(_ ancestor: String, of path: String) -> Bool {
        ancestor != path && path.hasPrefix(ancestor == "/" ? "/" : ancestor + "/")
    }

    /// `path` without trailing slashes (`/` stays `/`).
    static func trimmingSlashes(_ path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed
    }

    /// The absolute path with symlinks resolved and no trailing slash. A path that does not
    /// exist (yet) is its nearest existing ancestor, resolved, plus the rest as written.
    static func resolved(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        let trimmed = trimmingSlashes(path.hasPrefix("/") ? path : cwd + "/" + path)
        if let real = realpath(trimmed, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let parent = (trimmed as NSString).deletingLastPathComponent
        guard parent != trimmed, !parent.isEmpty else { return trimmed }
        let base = resolved(parent)
        return (base == "/" ? "" : base) + "/" + (trimmed as NSString).lastPathComponent
    }
}

/// walmgr refused to move or remove a directory; nothing was changed.
struct TargetRefusal: WalmgrError {
    /// Why the directory must stay.
    enum Reason: Sendable, Equatable {
        /// It is `/`.
        case root
        /// It is this home directory.
        case home(String)
        /// It is, or holds, a directory to keep.
        case holds(TargetGuard.Kept)
        /// A live postmaster's pid file is in it.
        case running(pid: Int32, pidFile: String, dataDir: String?)
        /// Configured as `key`, it holds none of the entries walmgr makes there.
        case foreign(key: String, expected: String)
        /// The live server in `dataDir` links a tablespace to it.
        case tablespace(pid: Int32, dataDir: String)
        /// The live server's data dir `dataDir`, or a tablespace it links to, is inside it.
        case holdsServer(pid: Int32, dataDir: String)

        /// The reason in a few words.
        var summary: String {
            switch self {
            case .root: "it is the root directory"
            case .home(let home): "it is the home directory (\(home))"
            case .holds(let kept): "it holds \(kept.key) (\(kept.path))"
            case .running(let pid, let pidFile, let dataDir):
                "a PostgreSQL server runs there (pid \(pid)"
                    + (dataDir.map { " for \($0)" } ?? "") + ", from \(pidFile))"
            case .foreign(let key, let expected):
                "as \(key) it should hold walmgr's \(expected), and it holds none of them"
            case .tablespace(let pid, let dataDir):
                "the PostgreSQL server in \(dataDir) (pid \(pid)) uses it as a tablespace"
            case .holdsServer(let pid, let dataDir):
                "it holds the data dir or a tablespace of the PostgreSQL server in \(dataDir) "
                    + "(pid \(pid))"
            }
        }
    }

    /// The refused directory.
    let path: String
    /// What walmgr was doing ("restore", "cleanup").
    let purpose: String
    let reason: Reason

    var description: String {
        "\(purpose): refusing to move or remove \(path): \(reason.summary); nothing was "
            + "changed. \(advice)"
    }

    /// What to do about it.
    private var advice: String {
        switch reason {
        case .root: return "Check the path"
        case .home(let home):
            return "Give walmgr a directory of its own, e.g. \(home)/walshipping"
        case .holds:
            return "Give walmgr a directory that holds none of the directories it must keep"
        case .running(let pid, let pidFile, _):
            return "Stop that server first (pg_ctl -D \(ShellWords.quote(path)) stop -m fast). "
                + "If pid \(pid) is not a postmaster, the pid file is stale: remove \(pidFile)"
        case .foreign(let key, _):
            return "Check \(key) in the ini; if \(path) really is walmgr's, remove it by hand"
        case .holdsServer(_, let dataDir):
            return "Check the path (a directory inside it?). To replace that server's files, "
                + "stop it first (pg_ctl -D \(ShellWords.quote(dataDir)) stop -m fast)"
        case .tablespace(_, let dataDir):
            return "It belongs to that server (on this host, likely the master): check that "
                + "no walmgr path names it, or stop that server first (pg_ctl -D "
                + "\(ShellWords.quote(dataDir)) stop -m fast)"
        }
    }
}
