import Foundation

/// `backup` (master) into an S3 repository: the master streams every file straight into the
/// bucket (no slave in the path), writes the manifest last, then rotates.
struct S3MasterBackup: Sendable {
    let config: MasterConfig
    let context: CommandContext
    let store: S3BackupStore
    var log: Log { context.log }

    static func run(_ context: CommandContext, config: MasterConfig) async throws -> Int32 {
        guard let store = try S3BackupStore(config.common) else { return 1 }
        if context.notReally {
            context.log.info("would back up \(config.masterData) into \(store.repository)")
            return 0
        }
        let holder = BackupLock.Holder(
            pid: getpid(), host: BackupLock.hostName, since: BackupManifest.isoTime(Date()))
        try store.lock(holder, log: context.log)
        do {
            try await S3MasterBackup(config: config, context: context, store: store).take()
        } catch {
            context.log.error(
                "backup failed; its files stay invisible without a manifest and "
                    + "the next backup removes them")
            try? store.unlock(holder)
            throw error
        }
        try store.unlock(holder)
        return 0
    }

    /// From the preflight to rotation.
    func take() async throws {
        try store.removeLeftovers(log: log)
        let (session, segmentSize) = try BackupSession.openOnMaster(config)
        defer { session.db.close() }
        var manifest = try BackupRun.emptyManifest(session: session, takenFrom: "master")
        manifest.name = S3BackupStore.newName()
        let startLSN = try session.start(label: manifest.label)
        log.info(
            "backup \"\(manifest.label)\" started at \(startLSN) into \(store.describe(manifest.name))"
        )
        let uploader = S3Uploader(client: store.client, partSize: S3Uploader.partSize())
        manifest = try await PostmasterWatch(dataDir: config.masterData, role: "master")
            .guarding { [self, manifest] in
                var copied = manifest
                try uploadAll(uploader, manifest: &copied)
                return copied
            }
        try await copyConfigFiles(shown: session.configFiles())
        let stop = try session.stop(waitForArchive: false)
        log.info("backup stopped at \(stop.lsn); waiting for its WAL in the archive")
        try BackupRun.fill(&manifest, stop: stop, segmentSize: segmentSize)
        try uploadLabel(stop, manifest: &manifest)
        try await waitForWAL(manifest, segmentSize: segmentSize)
        try store.writeManifest(manifest)
        log.info(
            "backup complete: \(store.describe(manifest.name)), "
                + "\(ListBackups.humanSize(manifest.sizeBytes)) in \(manifest.fileCount) files, "
                + "WAL \(manifest.startWAL)…\(manifest.stopWAL)")
        try store.rotate(keep: config.common.keepBackups, log: log)
        try await purgeWAL()
    }

    /// Removes WAL older than the oldest kept backup: from the bucket here, or through the
    /// slave's `xpurgewals` when completed_wals is its directory. From the bucket, nothing the
    /// slave's standby still needs goes (``standbyFloors()``).
    func purgeWAL() async throws {
        guard S3Repository.isS3(config.common.completedWals) else {
            // The slave's own full_backup may be a directory with other backups: it removes
            // nothing this bucket's oldest backup needs.
            guard let oldest = try store.list().last else { return }
            let link = try SlaveLink(config: config, invocation: context.invocation)
            try await link.run("xpurgewals", [oldest.manifest.startWAL], runner: context.runner)
            return
        }
        try S3Backup.purge(config.common, standby: await standbyFloors(), log: log)
    }

    /// What the standby on the slave (slave_config set) still needs, from its `xstandbyfloor`;
    /// none without a slave. A slave that cannot say keeps all WAL: it may restore from this
    /// bucket.
    func standbyFloors() async -> [StandbyFloor] {
        guard config.slaveConfig?.isEmpty == false else { return [] }
        do {
            let link = try SlaveLink(config: config, invocation: context.invocation)
            let result = try await link.run("xstandbyfloor", runner: context.runner)
            return StandbyFloor.parse(String(decoding: result.stdout, as: UTF8.self))
        } catch {
            return [.unknown("the slave did not say which WAL its standby needs: \(error)")]
        }
    }

    /// Uploads backup_label and a non-empty tablespace_map as pg_backup_stop returned them.
    func uploadLabel(_ stop: BackupSession.Stop, manifest: inout BackupManifest) throws {
        var files = [("backup_label", stop.labelFile)]
        if !stop.spcmapFile.isEmpty { files.append(("tablespace_map", stop.spcmapFile)) }
        for (name, text) in files {
            let bytes = Array(text.utf8)
            let key = store.dataKey(manifest.name, name)
            let response = try store.client.send("PUT", key, body: bytes)
            guard response.status == 200 else { throw store.client.failure(response, "PUT", key) }
            manifest.files?.append(
                .init(path: name, size: Int64(bytes.count), sha256: FileDigest.sha256(bytes)))
            manifest.fileCount += 1
            manifest.sizeBytes += Int64(bytes.count)
        }
    }

    /// Uploads the data directory and each tablespace; records files, directories, sizes.
    func uploadAll(_ uploader: S3Uploader, manifest: inout BackupManifest) throws {
        let spaces = BackupCopy.tablespaces(dataDir: config.masterData)
        var tree = S3TreeUpload(uploader: uploader, store: store, name: manifest.name)
        try tree.upload(
            config.masterData,
            excludes: BackupCopy.dataDirExcludes + spaces.map { "/pg_tblspc/\($0.oid)" },
            prefix: "")
        for space in spaces {
            let path = "\(BackupCopy.tablespaceDir)/\(space.oid)"
            try tree.upload(
                space.location, excludes: BackupCopy.tablespaceExcludes, prefix: path + "/")
            manifest.tablespaces.append(.init(oid: space.oid, location: space.location, path: path))
        }
        try uploader.finish()
        manifest.files = tree.files
        manifest.directories = tree.directories
        manifest.sizeBytes = tree.files.reduce(0) { $0 + $1.size }
        manifest.fileCount = tree.files.count
    }

    /// Waits until the archive holds every segment from the start to the stop WAL: by HEAD
    /// requests when completed_wals is in S3 too, else through the slave's `xwalcheck`.
    func waitForWAL(_ manifest: BackupManifest, segmentSize: UInt64) async throws {
        guard
            let first = WALSegment(name: manifest.startWAL, size: segmentSize),
            let last = WALSegment(name: manifest.stopWAL, size: segmentSize)
        else {
            throw BackupError.server(
                step: "reading the backup's WAL range", detail: manifest.startWAL)
        }
        guard S3Repository.isS3(config.common.completedWals) else {
            let link = try SlaveLink(config: config, invocation: context.invocation)
            try await link.run(
                "xwalcheck",
                [
                    manifest.startWAL, manifest.stopWAL, String(segmentSize),
                    MasterBackup.walWaitSeconds,
                ],
                runner: context.runner)
            return
        }
        let deadline = ContinuousClock.now + .seconds(Int(MasterBackup.walWaitSeconds) ?? 300)
        while true {
            let missing =
                try S3Backup.missingSegments(from: first, to: last, common: config.common) ?? []
            if missing.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw BackupError.missingWAL(names: missing, directory: config.common.completedWals)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// config_backup stays a directory on the slave: copied as for a directory backup when
    /// slave_config is set, else skipped with a note.
    func copyConfigFiles(shown: [String]) async throws {
        guard config.slaveConfig?.isEmpty == false, !config.common.configBackup.isEmpty,
            !S3Repository.isS3(config.common.configBackup)
        else {
            log.info(
                "config files not saved: config_backup needs slave_config (a slave to copy to)")
            return
        }
        let backup = MasterBackup(
            config: config, context: context,
            link: try SlaveLink(config: config, invocation: context.invocation),
            target: .local(config.common.configBackup))
        try await backup.copyConfigFiles(shown: shown)
    }
}

/// Walks a tree (rsync-style excludes, symlinks skipped) and uploads each regular file.
struct S3TreeUpload {
    let uploader: S3Uploader
    let store: S3BackupStore
    let name: String
    private(set) var files: [BackupManifest.File] = []
    private(set) var directories: [String] = []

    init(uploader: S3Uploader, store: S3BackupStore, name: String) {
        self.uploader = uploader
        self.store = store
        self.name = name
    }

    /// Uploads `source`'s files as `prefix + relative path`.
    mutating func upload(_ source: String, excludes: [String], prefix: String) throws {
        let rules = excludes.map(LocalTreeCopy.Rule.init)
        if !prefix.isEmpty { directories.append(String(prefix.dropLast())) }
        var pending = [""]
        while let relative = pending.popLast() {
            let dir = relative.isEmpty ? source : "\(source)/\(relative)"
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                if access(dir, F_OK) != 0 { continue }  // removed by the server meanwhile
                throw FileError("list", dir)
            }
            for entry in names.sorted().reversed() {
                let rel = relative.isEmpty ? entry : "\(relative)/\(entry)"
                guard !rules.contains(where: { $0.excludes(rel, name: entry) }) else { continue }
                var st = stat()
                guard lstat("\(source)/\(rel)", &st) == 0 else { continue }  // vanished
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    directories.append(prefix + rel)
                    pending.append(rel)
                case S_IFREG: try uploadFile("\(source)/\(rel)", as: prefix + rel)
                default: continue
                }
            }
        }
    }

    private mutating func uploadFile(_ path: String, as relative: String) throws {
        try Task.checkCancellation()  // the server went away (PostmasterWatch)
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }  // removed by the server meanwhile, as rsync allows
            throw FileError("open", path)
        }
        defer { close(fd) }
        let sum = try uploader.upload(fd: fd, path: path, key: store.dataKey(name, relative))
        files.append(.init(path: relative, size: sum.size, sha256: sum.sha256))
    }
}
