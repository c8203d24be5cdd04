import Foundation

extension RestoreCopy {
    /// Renames the staged dirs into place; the old ones become `<path>.N`, or are renamed to
    /// `<path>.walmgr-old` and returned for ``removeOld(_:)`` (restore removes them while the
    /// standby starts: deleting a large tree takes seconds on a busy disk).
    ///
    /// Each staged tree is flushed (syncfs) before its rename: the rename is a metadata change
    /// the file system may commit before the copied data, and a crash would then leave an empty
    /// or partial data dir under the real name, with the old one already gone.
    @discardableResult
    func swap(tablespaceTargets: [String]) throws -> [String] {
        // Checked again: a server may have been started in a target during the copy.
        try checkTargets(tablespaceTargets)
        // Resolved: an old link may name a restored target another way (a symlinked parent),
        // and that place now holds the restored tablespace.
        let restored = Set(tablespaceTargets.map(TargetGuard.resolved))
        let oldTablespaces = linkedTablespaces(of: destination).filter {
            !restored.contains(TargetGuard.resolved($0))
        }
        let staged =
            [(destination, staging)]
            + tablespaceTargets.map { ($0, "\($0).walmgr-restore") }
        for (_, stage) in staged { try syncTree(stage) }
        var aside: [String: String] = [:]
        for (target, stage) in staged { aside[target] = try replace(target, with: stage) }
        if keepOld {
            keepOldCopies(aside, tablespaceTargets: tablespaceTargets)
            return []
        }
        for old in oldTablespaces {
            if let server = LiveServers.usingTablespace(old, excluding: destination) {
                log.warning(
                    "left \(old) in place: the server in \(server.dataDir) (pid \(server.pid)) "
                        + "uses it as a tablespace, so it was never the old standby's own")
                continue
            }
            try TreeRemoval.remove(old)
            log.info("removed the old standby's tablespace \(old)")
        }
        return staged.compactMap { aside[$0.0] }
    }

    /// Removes what ``swap(tablespaceTargets:)`` moved aside (`<path>.walmgr-old`). One left
    /// behind by a crash is removed by the next restore before its swap.
    func removeOld(_ paths: [String]) throws {
        for path in paths {
            try TreeRemoval.remove(path)
            log.info(
                "removed the old \(path.dropLast(".walmgr-old".count)) (backup_datadir is off)")
        }
    }

    /// After a swap with `backup_datadir`: the kept data dir links to the kept tablespaces, and
    /// `keep_old_datadirs` bounds both kinds of copies.
    /// - Parameter kept: each replaced path → its kept `.N` copy.
    private func keepOldCopies(_ kept: [String: String], tablespaceTargets: [String]) {
        if let oldDataDir = kept[destination] {
            relinkTablespaces(of: oldDataDir, moved: kept.filter { $0.key != destination })
        }
        pruneOldDataDirs()
        pruneOldTablespaces(tablespaceTargets)
    }

    /// Moves `path` aside and renames `staged` to `path`.
    /// - Returns: where the old `path` went: its kept `.N` copy (`backup_datadir`), or
    ///   `<path>.walmgr-old` to remove; nil when nothing was there.
    private func replace(_ path: String, with staged: String) throws -> String? {
        let parent = (path as NSString).deletingLastPathComponent
        var aside: String?
        if StandbyFiles.exists(path) {
            let target = keepOld ? OldDataDirs.nextPath(path) : "\(path).walmgr-old"
            if !keepOld { try TreeRemoval.remove(target) }
            guard rename(path, target) == 0 else { throw FileError("rename \(path) to", target) }
            aside = target
        }
        guard rename(staged, path) == 0 else {
            let error = FileError("rename \(staged) to", path)
            if let aside { rename(aside, path) }
            throw error
        }
        try Durable.fsyncDirectory(parent)
        if let aside, keepOld { log.info("the old \(path) is kept as \(aside) (backup_datadir)") }
        return aside
    }

    /// Refuses before any change when a target (the destination, a tablespace target, or an
    /// old tablespace that will be removed) is no place to replace, or a server runs in it.
    func checkTargets(_ tablespaceTargets: [String]) throws {
        for target in targets(tablespaceTargets) {
            try targetGuard.check(target, purpose: "restore")
        }
    }

    /// The place of every target, before the standby is stopped (no server check yet).
    func checkPlaces() throws {
        for target in targets(entry.manifest.tablespaces.map(tablespaceTarget)) {
            try targetGuard.checkPlace(target, purpose: "restore")
        }
    }

    /// The destination, the tablespace targets, and the old tablespaces a swap removes.
    private func targets(_ tablespaceTargets: [String]) -> [String] {
        [destination] + tablespaceTargets + (keepOld ? [] : removableOldTablespaces())
    }

    /// Where the pg_tblspc links of a data dir point.
    func linkedTablespaces(of dataDir: String) -> [String] {
        LiveServers.tablespaceLinks(of: dataDir)
    }

    /// The old standby's tablespaces a swap without `backup_datadir` removes: not one another
    /// live server (the master on this host) uses, which the swap leaves in place.
    private func removableOldTablespaces() -> [String] {
        linkedTablespaces(of: destination).filter {
            LiveServers.usingTablespace($0, excluding: destination) == nil
        }
    }
}
