import Foundation

/// `backup` (master): a non-exclusive base backup of the running master into the slave's
/// full_backup, through an in-progress directory, then rotation and WAL purge on the slave.
struct MasterBackup: Sendable {
    let config: MasterConfig
    let context: CommandContext
    let link: SlaveLink
    /// Where full_backup is (local, or `host:path`).
    let target: Location
    var log: Log { context.log }
    /// How long the slave waits for the backup's last WAL segment to be archived.
    static let walWaitSeconds = "300"

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let full = try config.need(config.common.fullBackup, key: "full_backup", for: "backup")
        if S3Repository.isS3(full) { return try await S3MasterBackup.run(context, config: config) }
        let backup = MasterBackup(
            config: config, context: context,
            link: try SlaveLink(config: config, invocation: context.invocation),
            target: config.location(of: full))
        if context.notReally {
            context.log.info("would back up \(config.masterData) into \(full)")
            return 0
        }
        try await backup.locked()
        return 0
    }

    /// Takes the lock, runs the backup, and always releases the lock; a failed backup's
    /// in-progress directory is removed.
    func locked() async throws {
        let pid = String(getpid())
        try await link.run("xlock", [pid, BackupLock.hostName], runner: context.runner)
        do {
            try await take()
        } catch {
            log.error("backup failed; removing the unfinished copy")
            _ = try? await link.run("xbackupprep", ["--abort"], runner: context.runner)
            _ = try? await link.run("xrelease", [pid], runner: context.runner)
            throw error
        }
        try await link.run("xrelease", [pid], runner: context.runner)
    }

    /// The backup proper, from the preflight to rotation and purge.
    func take() async throws {
        let (session, segmentSize) = try BackupSession.openOnMaster(config)
        defer { session.db.close() }
        var manifest = try BackupRun.emptyManifest(session: session, takenFrom: "master")
        try await link.run("xbackupprep", runner: context.runner)
        let startLSN = try session.start(label: manifest.label)
        log.info("backup \"\(manifest.label)\" started at \(startLSN)")
        manifest = try await PostmasterWatch(dataDir: config.masterData, role: "master")
            .guarding { [self, manifest] in
                var copied = manifest
                try await copyAll(manifest: &copied)
                return copied
            }
        try await copyConfigFiles(shown: session.configFiles())
        let stop = try session.stop(waitForArchive: false)
        log.info("backup stopped at \(stop.lsn); waiting for its WAL in the archive")
        try BackupRun.fill(&manifest, stop: stop, segmentSize: segmentSize)
        try await writeFile("backup_label", stop.labelFile)
        if !stop.spcmapFile.isEmpty { try await writeFile("tablespace_map", stop.spcmapFile) }
        try await link.run(
            "xwalcheck",
            [manifest.startWAL, manifest.stopWAL, String(segmentSize), Self.walWaitSeconds],
            runner: context.runner)
        try await writeFile(BackupManifest.fileName, manifest.encoded())
        try await link.run(
            "xrotate", [String(config.common.keepBackups)], runner: context.runner)
        try await link.run("xpurgewals", runner: context.runner)
        log.info(
            "backup complete: \(ListBackups.humanSize(manifest.sizeBytes)) in "
                + "\(manifest.fileCount) files, WAL \(manifest.startWAL)…\(manifest.stopWAL)")
    }

    /// Copies the data dir and each tablespace; records sizes and tablespaces.
    func copyAll(manifest: inout BackupManifest) async throws {
        let dest = inProgress
        // Over ssh the slave's rsync finds the previous backup itself (--link-dest).
        let base =
            target.host != nil
            ? nil
            : IncrementalBase.find(
                BackupCatalog(fullBackup: target.path), enabled: config.common.backupIncremental,
                systemIdentifier: manifest.systemIdentifier, takenFrom: manifest.takenFrom)
        let previous = try await rsyncPrevious(systemIdentifier: manifest.systemIdentifier)
        let spaces = BackupCopy.tablespaces(dataDir: config.masterData)
        let excludes = BackupCopy.dataDirExcludes + spaces.map { "/pg_tblspc/\($0.oid)" }
        var (bytes, files, entries) = try await copyTree(
            "the data directory \(config.masterData)", from: config.masterData, to: dest,
            excludes: excludes, base: base, previous: previous, progress: true)
        for space in spaces {
            let path = "\(BackupCopy.tablespaceDir)/\(space.oid)"
            let stats = try await copyTree(
                "tablespace \(space.oid) at \(space.location)", from: space.location,
                to: dest.appending(path), excludes: BackupCopy.tablespaceExcludes,
                prefix: path + "/", base: base, previous: previous)
            bytes += stats.bytes
            files += stats.files
            entries += stats.entries
            manifest.tablespaces.append(.init(oid: space.oid, location: space.location, path: path))
        }
        manifest.sizeBytes = bytes
        manifest.fileCount = files
        // Over rsync there are none: the slave hashes the copy when it seals the backup.
        manifest.files = entries.isEmpty ? nil : entries
    }

    /// Copies a tree: in-process, hashing each file (or linking it from `base`, the previous
    /// backup, when unchanged), when the backup dir is local; else rsync over ssh, with
    /// `--link-dest` when there is a `previous` backup (no checksums: the slave computes or
    /// reuses them when it seals the backup), then again without it for the files rsync's
    /// whole-second mtime check must not have linked (``RsyncIncremental``).
    func copyTree(
        _ what: String, from source: String, to dest: Location, excludes: [String],
        prefix: String = "", base: IncrementalBase? = nil, previous: RsyncIncremental? = nil,
        progress: Bool = false
    ) async throws -> (bytes: Int64, files: Int, entries: [BackupManifest.File]) {
        guard case .local(let path) = dest else {
            return try await rsyncTree(
                what, from: source, to: dest, excludes: excludes, prefix: prefix,
                previous: previous, progress: progress)
        }
        return try LocalTreeCopy.backup(
            what, from: source, to: path, excludes: excludes, prefix: prefix, progress: progress,
            base: base)
    }

    /// A tree over ssh: without a `previous` backup one rsync; with one, rsync `--link-dest`
    /// for the files last written before it (the others skipped), then `-I` for the skipped
    /// ones (``RsyncIncremental``).
    func rsyncTree(
        _ what: String, from source: String, to dest: Location, excludes: [String],
        prefix: String, previous: RsyncIncremental?, progress: Bool
    ) async throws -> (bytes: Int64, files: Int, entries: [BackupManifest.File]) {
        var command = BackupCopy.rsync(
            source: source, destination: dest, ssh: rsyncSSH(dest), compress: config.compression,
            excludes: excludes, linkDest: previous == nil ? nil : linkDest(prefix: prefix))
        guard let previous else {
            let stats = try await rsync(what, command, progressFrom: progress ? source : nil)
            return (stats.bytes, stats.files, [])
        }
        let before = previous.recentFiles(root: source, excludes: excludes)
        if !before.isEmpty { command = RsyncIncremental.skippingListed(command) }
        let stats = try await rsync(
            what, command, input: .bytes(RsyncIncremental.excludeList(before.map(\.path))),
            progressFrom: progress ? source : nil)
        let resend = before.map(\.path)
        if !resend.isEmpty {
            log.debug("sending \(resend.count) files written since the previous backup started")
            _ = try await rsync(
                "\(what) (files written since the previous backup started)",
                RsyncIncremental.resend(
                    source: source, destination: dest, ssh: rsyncSSH(dest),
                    compress: config.compression),
                input: .bytes(RsyncIncremental.fileList(resend)))
        }
        return (stats.bytes + before.reduce(0) { $0 + $1.size }, stats.files + before.count, [])
    }

    /// rsync's `--link-dest`: the previous backup's copy of the tree (`prefix` inside it) on
    /// the slave, or nil with `backup_incremental = off`. The slave's seal step tells which
    /// files were linked (same inode) and reuses their checksums.
    func linkDest(prefix: String) -> String? {
        // A relative --link-dest would be read relative to the destination dir.
        guard config.common.backupIncremental, target.path.hasPrefix("/") else { return nil }
        let dir = prefix.isEmpty ? target.path : "\(target.path)/\(prefix)"
        return dir.hasSuffix("/") ? String(dir.dropLast()) : dir
    }

    /// Over ssh with `backup_incremental` on: the previous backup rsync may link from, asked of
    /// the slave (nil locally, when off, or without a usable previous backup).
    func rsyncPrevious(systemIdentifier: String) async throws -> RsyncIncremental? {
        guard target.host != nil, config.common.backupIncremental else { return nil }
        let listing = try await link.run("listbackups", ["--json"], runner: context.runner)
        return try RsyncIncremental.previous(
            listing: listing.stdout, fullBackupName: (target.path as NSString).lastPathComponent,
            systemIdentifier: systemIdentifier)
    }

    /// Saves postgresql.conf, pg_hba.conf and pg_ident.conf into config_backup: in-process when
    /// it is on this machine (an rsync costs more than the copy), else rsync over ssh.
    func copyConfigFiles(shown: [String]) async throws {
        let files = BackupCopy.configFiles(shown: shown, masterConfig: config.masterConfig)
        guard !config.common.configBackup.isEmpty, !files.isEmpty else { return }
        let dest = config.location(of: config.common.configBackup)
        if case .local(let dir) = dest {
            do {
                return try LocalTreeCopy.copyFiles(files, into: dir)
            } catch {
                throw BackupError.copyFailed(
                    what: "the config files to \(dir)", command: "in-process copy",
                    status: "failed", stderr: "\(error)")
            }
        }
        _ = try await rsync(
            "the config files to \(dest)",
            BackupCopy.rsyncFiles(
                files, destination: dest, ssh: rsyncSSH(dest), compress: config.compression))
    }

    /// `<full_backup>.inprogress`, where the copy goes.
    var inProgress: Location {
        switch target {
        case .local(let p): .local(p + ".inprogress")
        case .remote(let h, let p): .remote(host: h, path: p + ".inprogress")
        }
    }

    /// ssh for rsync to a remote destination (rsync compresses with -z, so ssh does not).
    func rsyncSSH(_ destination: Location) -> SSH? {
        guard let host = destination.host else { return nil }
        return SSH(
            host: host, options: config.common.sshOptions, controlDir: link.ssh?.controlDir,
            compress: false)
    }

    /// Runs one rsync; exit 24 (files vanished while copying) is normal on a live server.
    func rsync(
        _ what: String, _ command: Command, input: ProcessInput = .none,
        progressFrom source: String? = nil
    ) async throws -> (bytes: Int64, files: Int) {
        log.debug("running \(command)")
        let progress = source.flatMap { BackupProgress.start(source: $0, destination: inProgress) }
        let result = try await context.runner.run(command, input: input, timeout: nil)
        progress?.cancel()
        await progress?.value
        guard result.succeeded || (result.status == 24 && !result.signaled) else {
            throw BackupError.copyFailed(
                what: what, command: command.description, status: result.statusText,
                stderr: result.stderrTail)
        }
        if result.status == 24 { log.info("some files vanished while copying \(what) (normal)") }
        return BackupCopy.stats(result.output)
    }

    /// Writes one small file into the in-progress backup on the slave, durably.
    func writeFile(_ name: String, _ text: String) async throws {
        try await writeFile(name, Array(text.utf8))
    }

    func writeFile(_ name: String, _ bytes: [UInt8]) async throws {
        try await link.run("xbackupfile", [name], input: .bytes(bytes), runner: context.runner)
    }
}

extension Location {
    /// This location with a relative path appended.
    func appending(_ relative: String) -> Location {
        switch self {
        case .local(let p): .local("\(p)/\(relative)")
        case .remote(let h, let p): .remote(host: h, path: "\(p)/\(relative)")
        }
    }
}
