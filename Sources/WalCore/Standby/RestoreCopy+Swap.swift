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
        let oldTablespaces = linkedTablespaces(of: destination)
        let staged =
            [(destination, staging)]
            + tablespaceTargets.map { ($0, "\($0).walmgr-restore") }
        for (_, stage) in staged { try syncTree(stage) }
        let aside = try staged.compactMap { target, stage in try replace(target, with: stage) }
        if keepOld { pruneOldDataDirs() }
        if !keepOld {
            for old in oldTablespaces where !tablespaceTargets.contains(old) {
                try removeTree(old)
                log.info("removed the old standby's tablespace \(old)")
            }
        }
        return aside
    }

    /// Removes what ``swap(tablespaceTargets:)`` moved aside (`<path>.walmgr-old`). One left
    /// behind by a crash is removed by the next restore before its swap.
    func removeOld(_ paths: [String]) throws {
        for path in paths {
            try removeTree(path)
            log.info(
                "removed the old \(path.dropLast(".walmgr-old".count)) (backup_datadir is off)")
        }
    }

    /// Moves `path` aside and renames `staged` to `path`; returns the `.walmgr-old` path to
    /// remove (nil when nothing was there or `backup_datadir` keeps it as `.N`).
    private func replace(_ path: String, with staged: String) throws -> String? {
        let parent = (path as NSString).deletingLastPathComponent
        var aside: String?
        if StandbyFiles.exists(path) {
            let target = keepOld ? OldDataDirs.nextPath(path) : "\(path).walmgr-old"
            if !keepOld { try removeTree(target) }
            guard rename(path, target) == 0 else { throw FileError("rename \(path) to", target) }
            aside = target
        }
        guard rename(staged, path) == 0 else {
            let error = FileError("rename \(staged) to", path)
            if let aside { rename(aside, path) }
            throw error
        }
        try Durable.fsyncDirectory(parent)
        guard let aside else { return nil }
        guard !keepOld else {
            log.info("the old \(path) is kept as \(aside) (backup_datadir)")
            return nil
        }
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
        [destination] + tablespaceTargets + (keepOld ? [] : linkedTablespaces(of: destination))
    }

    /// Where the pg_tblspc links of a data dir point.
    func linkedTablespaces(of dataDir: String) -> [String] {
        let dir = "\(dataDir)/pg_tblspc"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)")
        }
    }
}
