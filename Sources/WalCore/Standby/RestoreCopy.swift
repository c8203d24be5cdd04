import Foundation

/// Copies (or moves) a backup into a staging dir next to the destination, then swaps it in.
///
/// Copies use `cp --reflink=auto -a`: a reflink shares blocks on btrfs/XFS and is a plain copy
/// elsewhere. Hard links are never used: PostgreSQL writes data files in place, so a link would
/// let the running standby modify the backup. `--move` renames, then copies the files an
/// incremental backup shares with older ones (``LinkedFileSplit``). While `cp` runs, the staging
/// dir is flushed every 50 ms (``EarlyWriteback``), so the syncfs before the swap has little left.
struct RestoreCopy {
    /// Entries of a backup dir that are walmgr's own, not PostgreSQL's.
    static let walmgrEntries: Set<String> = [BackupManifest.fileName, "walmgr_tblspc", "tmpspc"]

    let entry: BackupCatalog.Entry
    let destination: String
    /// `--move`: rename the backup's files instead of copying (the backup is consumed).
    let move: Bool
    /// `backup_datadir`: keep the old data dir as `<destination>.N`.
    let keepOld: Bool
    /// `keep_old_datadirs`: how many `<destination>.N` stay after the swap.
    var keepOldCount = SlaveConfig.defaultKeepOldDatadirs
    let runner: any ProcessRunning
    let log: Log
    /// Refuses destinations that must not be moved or removed (checked before any change).
    let targetGuard: TargetGuard
    /// Flushes a staged tree before its rename; a seam so a test can see the order.
    var syncTree: @Sendable (String) throws -> Void = Durable.syncFileSystem
    /// Flushes a staging dir's file system during its copy (``EarlyWriteback``); a seam too.
    var flushDuringCopy: @Sendable (String) throws -> Void = Durable.syncFileSystem

    /// The staging dir, next to the destination so the swap is a rename.
    var staging: String { "\(destination).walmgr-restore" }

    /// Copies the backup and its tablespaces into staging dirs; returns the tablespace targets
    /// for ``swap(tablespaceTargets:)``.
    func prepare() async throws -> [String] {
        let targets = entry.manifest.tablespaces.map(tablespaceTarget)
        try checkTargets(targets)
        let pinned = try pinBackup()
        try TreeRemoval.remove(staging)
        // A first restore on a fresh standby host: /var/lib/postgresql/16 may not exist yet.
        try Directories.make((destination as NSString).deletingLastPathComponent)
        guard mkdir(staging, 0o700) == 0 else { throw FileError("create", staging) }
        if move { try markConsumed() }
        let names = try FileManager.default.contentsOfDirectory(atPath: entry.path)
            .filter { !Self.walmgrEntries.contains($0) }.sorted()
        try await transfer(names.map { "\(entry.path)/\($0)" }, into: staging)
        for dir in ["pg_wal/archive_status", "log"] {
            try Directories.make("\(staging)/\(dir)")
        }
        for (tablespace, target) in zip(entry.manifest.tablespaces, targets) {
            try await stageTablespace(tablespace, into: target)
        }
        try TablespaceMap.rewrite(
            in: staging, links: zip(entry.manifest.tablespaces, targets).map { ($0.oid, $1) })
        // Every file was read by path: a rotation meanwhile gave cp or rename the newer backup.
        try checkPinned(pinned)
        if move {
            try TreeRemoval.remove(entry.path)
            log.info("--move: \(entry.path) was consumed")
        }
        return targets
    }

    /// Copies or moves paths into a directory.
    private func transfer(_ sources: [String], into directory: String) async throws {
        guard !sources.isEmpty else { return }
        if move {
            for source in sources {
                let target = "\(directory)/\((source as NSString).lastPathComponent)"
                if rename(source, target) != 0 {
                    guard errno == EXDEV else { throw FileError("move \(source) to", target) }
                    try await copy([source], into: directory)
                }
            }
            let split = try LinkedFileSplit.split(under: directory)
            if split > 0 {
                log.info(
                    "--move: copied \(split) files that older backups share by hard link, so "
                        + "the server cannot write into those backups")
            }
            return
        }
        try await copy(sources, into: directory)
    }

    private func copy(_ sources: [String], into directory: String) async throws {
        let command = Command("cp", ["--reflink=auto", "-a", "--"] + sources + [directory])
        // The disk writes start while cp runs, so the syncfs before the swap has little left.
        let writeback = EarlyWriteback(directory, flush: flushDuringCopy)
        let result: ProcessResult
        do { result = try await runner.run(command, input: .none, timeout: nil) } catch {
            try? writeback.stop()
            throw error
        }
        try writeback.stop()
        guard result.succeeded else {
            throw WalmgrFailure(
                "copying \(entry.path) into \(directory) failed (\(result.statusText)): "
                    + "\(result.stderrTail). Check free space and permissions; \(destination) "
                    + "was not touched")
        }
    }

    /// Where a tablespace goes: its original location, unless that is in use by someone other
    /// than the standby being replaced (e.g. the master on the same host).
    func tablespaceTarget(_ tablespace: BackupManifest.Tablespace) -> String {
        let original = tablespace.location
        let oldLink = try? FileManager.default.destinationOfSymbolicLink(
            atPath: "\(destination)/pg_tblspc/\(tablespace.oid)")
        // The old standby's own location, unless another live server uses it too: an earlier
        // restore may have let PostgreSQL link the standby to the master's directory.
        let shared = LiveServers.usingTablespace(original, excluding: destination) != nil
        if (oldLink == original && !shared) || isEmptyOrMissing(original) { return original }
        let fallback = "\(destination)_tblspc/\(tablespace.oid)"
        log.warning(
            "tablespace \(tablespace.oid): \(original) is in use (by the master?); restoring it to "
                + "\(fallback) instead")
        return fallback
    }

    private func stageTablespace(
        _ tablespace: BackupManifest.Tablespace, into target: String
    ) async throws {
        let source =
            tablespace.path.hasPrefix("/") ? tablespace.path : "\(entry.path)/\(tablespace.path)"
        let stage = "\(target).walmgr-restore"
        try TreeRemoval.remove(stage)
        try Directories.make((target as NSString).deletingLastPathComponent)
        guard mkdir(stage, 0o700) == 0 else { throw FileError("create", stage) }
        let names = try FileManager.default.contentsOfDirectory(atPath: source)
        try await transfer(names.map { "\(source)/\($0)" }, into: stage)
        let link = "\(staging)/pg_tblspc/\(tablespace.oid)"
        try Directories.make("\(staging)/pg_tblspc")
        try? FileManager.default.removeItem(atPath: link)
        guard symlink(target, link) == 0 else { throw FileError("create symlink", link) }
        log.info("tablespace \(tablespace.oid) → \(target)")
    }

    /// `--move`: marks the backup's manifest `consumed` (durably) before its first file is
    /// moved. A restore killed during the moves leaves a backup missing files; marked, it is no
    /// longer listed as complete, so the next restore cannot restore it half.
    func markConsumed() throws {
        let path = "\(entry.path)/\(BackupManifest.fileName)"
        guard try Durable.regularFileExists(path) else { return }
        var manifest = entry.manifest
        manifest.status = Self.consumedStatus
        try Durable.replace(manifest.encoded(), at: path, mode: 0o600)
    }

    /// The manifest status of a backup `restore --move` has begun to consume.
    static let consumedStatus = "consumed"

    func isEmptyOrMissing(_ path: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).isEmpty
    }
}

extension RestoreCopy {
    /// The backup dir no longer holds the backup restore picked: a backup ended meanwhile and
    /// its rotation renamed the picked one (`data.master` → `data.master.0`) and put itself
    /// under that name. Nothing in the destination was changed.
    struct BackupChanged: WalmgrError {
        let path: String
        let destination: String
        var description: String {
            "\(path) changed while restore read it: a backup ended meanwhile, and its rotation "
                + "renamed the backup restore had picked (to the next number, or removed it "
                + "beyond keep_backups). Nothing in \(destination) was changed; run restore "
                + "again (it picks the newest backup; `walmgr SLAVE_INI listbackups` names them)"
        }
    }

    /// The backup dir's inode, once its manifest shows it still holds the picked backup.
    /// cp and `--move` read the backup by path, and a rotation would hand them the new one.
    func pinBackup() throws -> (dev: UInt, ino: UInt) {
        var st = stat()
        let now = BackupCatalog(fullBackup: entry.path).entry(at: entry.path)?.manifest
        guard lstat(entry.path, &st) == 0,
            now.map({ $0.label == entry.manifest.label && $0.startLSN == entry.manifest.startLSN })
                ?? true
        else { throw BackupChanged(path: entry.path, destination: destination) }
        return (UInt(st.st_dev), UInt(st.st_ino))
    }

    /// Throws unless the backup dir is still the one ``pinBackup()`` saw.
    func checkPinned(_ pinned: (dev: UInt, ino: UInt)) throws {
        var st = stat()
        guard lstat(entry.path, &st) == 0, UInt(st.st_dev) == pinned.dev,
            UInt(st.st_ino) == pinned.ino
        else { throw BackupChanged(path: entry.path, destination: destination) }
    }
}
