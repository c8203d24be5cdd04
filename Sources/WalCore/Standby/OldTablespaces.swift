import Foundation

/// `<tablespace>.N`: the old tablespace dirs restore keeps aside with `backup_datadir`, next
/// to `<slave_data>.N`. `keep_old_datadirs` bounds them the same way, per tablespace.
extension OldDataDirs {
    /// The kept copies of the tablespace at `location` (dirs holding a `PG_*` version dir, as
    /// PostgreSQL makes in every tablespace), oldest first.
    static func tablespaceCopies(_ location: String) -> [String] {
        numbered(location).map(\.path).filter { path in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.contains { $0.hasPrefix("PG_") }
        }
    }
}

extension RestoreCopy {
    /// Removes the oldest `<target>.N` of each tablespace target beyond `keep_old_datadirs`.
    /// A copy a running server uses (a data dir here whose postmaster lives links to it), or
    /// one the guard refuses, is kept with a warning: the restore itself succeeded.
    func pruneOldTablespaces(_ targets: [String]) {
        for target in targets {
            for path in OldDataDirs.tablespaceCopies(target).dropLast(keepOldCount) {
                do {
                    try targetGuard.check(path, purpose: "restore")
                    if let user = liveUser(of: path) {
                        log.warning(
                            "kept \(path) beyond keep_old_datadirs: the server in \(user.dataDir) "
                                + "(pid \(user.pid)) uses it as a tablespace")
                        continue
                    }
                    try TreeRemoval.remove(path)
                    log.info(
                        "removed \(path): keep_old_datadirs = \(keepOldCount) keeps the newest")
                } catch {
                    log.warning("kept \(path) beyond keep_old_datadirs: \(error)")
                }
            }
        }
    }

    /// The live server that links a tablespace to `path`: any seen on this host, or one
    /// running in the destination or a kept `<destination>.N`.
    func liveUser(of path: String) -> LiveServers.Server? {
        LiveServers.usingTablespace(path, known: [destination] + OldDataDirs.list(destination))
    }

    /// Points the kept old data dir's tablespace links at the kept tablespace copies: its
    /// links name the original locations, which now hold the restored tablespaces, and a DBA
    /// who starts the old copy must not write into the new standby's files.
    /// - Parameter moved: original location → where the old tablespace was kept.
    func relinkTablespaces(of oldDataDir: String, moved: [String: String]) {
        let dir = "\(oldDataDir)/pg_tblspc"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        // Resolved: a link may name a location another way (a symlinked parent).
        let keptCopies = Dictionary(
            moved.map { (TargetGuard.resolved($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
        for name in names {
            let link = "\(dir)/\(name)"
            guard let current = try? FileManager.default.destinationOfSymbolicLink(atPath: link),
                let kept = moved[current] ?? keptCopies[TargetGuard.resolved(current)]
            else { continue }
            let temp = "\(link).walmgr-relink"
            unlink(temp)
            guard symlink(kept, temp) == 0, rename(temp, link) == 0 else {
                unlink(temp)
                log.warning(
                    "\(link) still points at \(current), which now holds the restored tablespace; "
                        + "point it at \(kept) (ln -sfn \(kept) \(link)) before starting "
                        + "\(oldDataDir)")
                continue
            }
        }
        try? Durable.fsyncDirectory(dir)
    }
}
