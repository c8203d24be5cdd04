import Foundation

/// The PostgreSQL servers running on this host, found through /proc: a postmaster runs in its
/// data dir (its cwd), and that dir's postmaster.pid names it. A server of another user whose
/// cwd cannot be read is not seen (walmgr runs as the servers' user, or as root).
enum LiveServers {
    /// A live server: its data dir and the postmaster's pid.
    typealias Server = (dataDir: String, pid: Int32)

    /// Every live postmaster this process can see.
    static func all() -> [Server] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name in
            guard let pid = Int32(name), pid > 0,
                let cwd = try? FileManager.default.destinationOfSymbolicLink(
                    atPath: "/proc/\(name)/cwd"),
                PostmasterPidFile(dataDir: cwd).livePID == pid
            else { return nil }
            return (cwd, pid)
        }
    }

    /// The live server whose data dir links a tablespace to `path`: one seen in /proc, or one
    /// running in a `known` data dir; a server in `excluding` does not count.
    static func usingTablespace(_ path: String, excluding: String? = nil, known: [String] = [])
        -> Server?
    {
        let target = TargetGuard.resolved(path)
        let excluded = excluding.map(TargetGuard.resolved)
        let knownServers = known.compactMap { dir -> Server? in
            PostmasterPidFile(dataDir: dir).livePID.map { (dir, $0) }
        }
        return (all() + knownServers).first { server in
            TargetGuard.resolved(server.dataDir) != excluded
                && tablespaceLinks(of: server.dataDir).contains {
                    TargetGuard.resolved($0) == target
                }
        }
    }

    /// The live server whose data dir, or a tablespace it links to, lies inside `path` (below
    /// it, not `path` itself: ``TargetGuard/check(_:purpose:)`` asks about that separately).
    static func inside(_ path: String) -> Server? {
        let dir = TargetGuard.resolved(path)
        return all().first { server in
            ([server.dataDir] + tablespaceLinks(of: server.dataDir)).contains {
                TargetGuard.isAncestor(dir, of: TargetGuard.resolved($0))
            }
        }
    }

    /// Where the pg_tblspc links of a data dir point.
    static func tablespaceLinks(of dataDir: String) -> [String] {
        let dir = "\(dataDir)/pg_tblspc"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)")
        }
    }
}
