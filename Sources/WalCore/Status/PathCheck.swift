import Foundation

/// Checks that walmgr can write where it must, and says exactly how to fix it when not.
enum PathCheck {
    /// Checks a directory walmgr writes into. A missing directory passes when its nearest
    /// existing parent is writable (walmgr creates it), and fails otherwise.
    static func writableDir(_ key: String, _ path: String, mustExist: Bool = false)
        -> CheckResult
    {
        let me = UserAccount.currentName
        guard let found = FileOwnership(path) else {
            let parent = FileOwnership.nearest(path)
            if let blocked = unreadable(path) {
                // Not "does not exist": the path cannot be looked at, which is the real finding.
                return .fail("\(key) writable", blocked.detail, fix: blocked.fix)
            }
            if mustExist {
                return .fail(
                    "\(key) writable", "\(path) does not exist",
                    fix: "run `walmgr INI setup`, or create it: mkdir -p \(ShellWords.quote(path))")
            }
            if access(parent.path, W_OK | X_OK) == 0 {
                return .pass("\(key) writable", "\(path) does not exist yet; walmgr creates it")
            }
            return .fail(
                "\(key) writable",
                "\(path) does not exist and \(parent.path) is \(parent.owner):\(parent.group) "
                    + "\(parent.modeText), not writable by \(me) (walmgr runs as \(me))",
                fix: FileOwnership.createFix(path, parent: parent, for: me))
        }
        guard (found.mode & S_IFMT) == S_IFDIR else {
            return .fail(
                "\(key) writable", "\(path) is not a directory",
                fix: "point \(key) at a directory")
        }
        if access(path, W_OK | X_OK) == 0 {
            return .pass(
                "\(key) writable", "\(path) (\(found.owner):\(found.group) \(found.modeText))")
        }
        return .fail(
            "\(key) writable",
            "\(path) is \(found.owner):\(found.group) \(found.modeText), not writable by \(me) "
                + "(walmgr runs as \(me))",
            fix: found.fix(for: me))
    }

    /// When walmgr's user cannot look into `path` because an existing ancestor (or `path`
    /// itself) denies it, the ownership finding and its fix; nil when the path can be read or
    /// simply does not exist. Callers use it so an ownership problem is not reported as
    /// "does not exist" or "no backup".
    static func unreadable(_ path: String) -> (detail: String, fix: String)? {
        var st = stat()
        if stat(path, &st) == 0 {
            guard access(path, R_OK | X_OK) != 0, errno == EACCES || errno == EPERM else {
                return nil
            }
        } else if errno != EACCES {
            return nil
        }
        // stat of path worked: path itself denies. EACCES: the deepest ancestor stat reaches
        // is the one without search permission.
        let blocked = FileOwnership.nearest(path)
        let me = UserAccount.currentName
        let place = blocked.path == path ? path : "\(path) cannot be reached: \(blocked.path)"
        return (
            "\(place) is \(blocked.owner):\(blocked.group) \(blocked.modeText), not readable by "
                + "\(me) (walmgr runs as \(me))",
            blocked.fix(for: me)
        )
    }

    /// Checks the directory of a file walmgr writes (logfile, pidfile).
    static func writableFile(_ key: String, _ path: String) -> CheckResult {
        if access(path, F_OK) == 0 {
            guard access(path, W_OK) != 0 else { return .pass("\(key) writable", path) }
            let found = FileOwnership.nearest(path)
            let me = UserAccount.currentName
            return .fail(
                "\(key) writable",
                "\(path) is \(found.owner):\(found.group) \(found.modeText), not writable by "
                    + "\(me) (walmgr runs as \(me))",
                fix: found.fix(for: me))
        }
        let dir = (path as NSString).deletingLastPathComponent
        let result = writableDir(key, dir.isEmpty ? "." : dir)
        return result.ok ? .pass("\(key) writable", "\(path) (created on first use)") : result
    }

    /// Checks that a directory walmgr reads exists and can be listed.
    static func readableDir(_ key: String, _ path: String) -> CheckResult {
        guard let found = FileOwnership(path) else {
            return .fail(
                "\(key) exists", "\(path) does not exist", fix: "set \(key) to the right path")
        }
        guard access(path, R_OK | X_OK) == 0 else {
            let me = UserAccount.currentName
            return .fail(
                "\(key) readable",
                "\(path) is \(found.owner):\(found.group) \(found.modeText), not readable by \(me)",
                fix: found.fix(for: me))
        }
        return .pass("\(key) exists", "\(path) (\(found.owner):\(found.group) \(found.modeText))")
    }

    /// Checks that PostgreSQL programs are found in the configured bin dir (or PATH).
    static func programs(_ names: [String], bin: String?, key: String) -> CheckResult {
        let finder = PGBin(bin)
        var found: [String] = []
        for name in names {
            do { found.append(try finder.path(name)) } catch {
                return .fail("\(key) programs", "\(error)")
            }
        }
        let dir = found.first.map { ($0 as NSString).deletingLastPathComponent } ?? "PATH"
        return .pass("\(key) programs", "\(names.joined(separator: ", ")) in \(dir)")
    }

    /// Checks that tools walmgr runs from PATH (rsync, ssh) are installed.
    static func tools(_ names: [String]) -> CheckResult {
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map(String.init)
        let missing = names.filter { name in !search.contains { access("\($0)/\(name)", X_OK) == 0 }
        }
        guard missing.isEmpty else {
            return .fail(
                "tools", "\(missing.joined(separator: ", ")) not in PATH",
                fix: "install them (Debian: apt-get install \(missing.joined(separator: " ")))")
        }
        return .pass("tools", "\(names.joined(separator: ", ")) found")
    }
}
