import Foundation

/// `backup` (slave): a base backup taken from the running standby, so the master is spared the
/// copy. The non-exclusive API runs on the standby's own connection (`slave_db`).
///
/// A standby cannot switch WAL: the stop segment is archived only once the master switches, so
/// walmgr asks the master (`master_db`) for `pg_switch_wal()` and waits for the segment.
struct StandbyBackup: Sendable {
    let config: SlaveConfig
    let context: CommandContext
    let catalog: BackupCatalog
    let completedWals: String
    /// How long to wait for the master to archive the stop segment.
    static let walWait: Duration = .seconds(300)
    var log: Log { context.log }

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let full = try config.need(config.common.fullBackup, key: "full_backup", for: "backup")
        guard !S3Repository.isS3(full) else {
            throw WalmgrFailure(
                "backup on the standby cannot write to full_backup = \(full) yet: run "
                    + "`walmgr wal-master.ini backup` on the master, which uploads to S3 itself")
        }
        let wals = try config.need(
            config.common.completedWals, key: "completed_wals", for: "backup")
        _ = try config.need(config.slaveData, key: "slave_data", for: "backup")
        let backup = StandbyBackup(
            config: config, context: context, catalog: BackupCatalog(fullBackup: full),
            completedWals: wals)
        if context.notReally {
            context.log.info("would back up the standby \(config.slaveData) into \(full)")
            return 0
        }
        let lock = BackupLock(completedWals: wals)
        try lock.acquire(
            .init(pid: getpid(), host: BackupLock.hostName, since: BackupManifest.isoTime(Date())),
            log: context.log)
        do {
            try await backup.take()
        } catch {
            context.log.error("backup failed; removing the unfinished copy")
            try? TreeRemoval.remove(backup.catalog.inProgress)
            _ = try? lock.release(pid: getpid())
            throw error
        }
        try lock.release(pid: getpid())
        return 0
    }

    func take() async throws {
        try prepare()
        let db = try PGConnection(conninfo: config.slaveDb)
        defer { db.close() }
        let session = BackupSession(db: db)
        let segmentSize = try session.walSegmentSize()
        var manifest = try BackupRun.emptyManifest(session: session, takenFrom: "standby")
        let startLSN = try session.start(label: manifest.label)
        log.info("standby backup \"\(manifest.label)\" started at \(startLSN)")
        manifest = try await PostmasterWatch(dataDir: config.slaveData, role: "standby")
            .guarding { [self, manifest] in
                var copied = manifest
                try copy(&copied)
                return copied
            }
        let stop = try session.stop()
        try BackupRun.fill(&manifest, stop: stop, segmentSize: segmentSize)
        let dir = catalog.inProgress
        try Durable.replace(Array(stop.labelFile.utf8), at: "\(dir)/backup_label")
        if !stop.spcmapFile.isEmpty {
            try Durable.replace(Array(stop.spcmapFile.utf8), at: "\(dir)/tablespace_map")
        }
        try await waitForWAL(manifest, segmentSize: segmentSize)
        try BackupSeal.seal(dir, manifest: manifest, previous: IncrementalBase.find(catalog))
        let rotation = BackupRotation(
            catalog: catalog, keep: config.common.keepBackups, hook: config.archiveCommand)
        try await rotation.rotate(runner: context.runner, log: log)
        try S3Backup.purge(config.common, standby: StandbyFloor.onThisHost(config), log: log)
        log.info("standby backup complete: \(ListBackups.humanSize(manifest.sizeBytes))")
    }

    /// A fresh in-progress dir with room for tablespaces.
    func prepare() throws {
        if FileManager.default.fileExists(atPath: catalog.inProgress) {
            try TreeRemoval.remove(catalog.inProgress)
            log.info("removed the unfinished backup \(catalog.inProgress)")
        }
        BackupRotation(catalog: catalog, keep: 0, hook: nil).removeLeftovers()
        try Directories.make("\(catalog.inProgress)/\(BackupCopy.tablespaceDir)")
    }

    /// Copies the standby's data dir and tablespaces locally, in-process (see LocalTreeCopy),
    /// recording each file's SHA-256 as it is copied.
    func copy(_ manifest: inout BackupManifest) throws {
        let spaces = BackupCopy.tablespaces(dataDir: config.slaveData)
        // (source, path inside the backup, excludes)
        var jobs = [
            (
                config.slaveData, "",
                BackupCopy.dataDirExcludes + spaces.map { "/pg_tblspc/\($0.oid)" }
            )
        ]
        for space in spaces {
            let path = "\(BackupCopy.tablespaceDir)/\(space.oid)"
            jobs.append((space.location, path, BackupCopy.tablespaceExcludes))
            manifest.tablespaces.append(.init(oid: space.oid, location: space.location, path: path))
        }
        var files: [BackupManifest.File] = []
        let base = IncrementalBase.find(
            catalog, enabled: config.common.backupIncremental,
            systemIdentifier: manifest.systemIdentifier, takenFrom: manifest.takenFrom)
        for (source, path, excludes) in jobs {
            let copied = try LocalTreeCopy.backup(
                source, from: source,
                to: path.isEmpty ? catalog.inProgress : "\(catalog.inProgress)/\(path)",
                excludes: excludes, prefix: path.isEmpty ? "" : path + "/", progress: true,
                base: base)
            manifest.sizeBytes += copied.bytes
            manifest.fileCount += copied.files
            files += copied.entries
        }
        manifest.files = files
    }

    /// Asks the master to switch WAL (when master_db is set) and waits for the stop segment.
    func waitForWAL(_ manifest: BackupManifest, segmentSize: UInt64) async throws {
        guard let first = WALSegment(name: manifest.startWAL, size: segmentSize),
            let last = WALSegment(name: manifest.stopWAL, size: segmentSize)
        else { return }
        if let masterDb = config.masterDb, !masterDb.isEmpty {
            do {
                let master = try PGConnection(conninfo: masterDb)
                defer { master.close() }
                _ = try master.scalar("SELECT \(master.serverVersion.switchWALFunction)()::text")
            } catch {
                log.warning("could not switch WAL on the master through master_db: \(error)")
            }
        } else {
            log.info("master_db is not set: waiting for the master to switch WAL by itself")
        }
        let deadline = ContinuousClock.now + Self.walWait
        while true {
            let missing = SlaveBackupHelpers.missingSegments(
                from: first, to: last, in: completedWals)
            if missing.isEmpty { return }
            if ContinuousClock.now > deadline {
                throw BackupError.missingWAL(names: missing, directory: completedWals)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
