import Foundation

/// `restore [--move] [SET] [DST]` (slave): make a backup a running standby.
///
/// Order: pick the backup, stop the standby, copy the backup into `<DST>.walmgr-restore`,
/// restore config files, write recovery settings, swap the new dir in (the old one becomes
/// `<DST>.N` or is removed), start. Until the swap nothing in DST changes; the backup itself is
/// only consumed with `--move`.
enum Restore {
    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let log = context.log
        let target = try RecoveryTarget.parse(options: context.options, flags: context.flags)
        let plan = try target.map {
            try Self.plan(config, target: $0, named: context.arguments.first, log: log)
        }
        var entry = try pick(
            config: config, name: plan?.backup.name ?? context.arguments.first, log: log)
        let slaveData = try config.need(config.slaveData, key: "slave_data", for: "restore")
        // No trailing slash: the staging dir `<DST>.walmgr-restore` must be DST's sibling.
        let destination = TargetGuard.trimmingSlashes(
            context.arguments.count > 1 ? context.arguments[1] : slaveData)
        let isStandby = destination == TargetGuard.trimmingSlashes(slaveData)
        let lock = context.notReally ? nil : try Self.lock(destination)
        defer { lock?.release() }
        let store = try S3BackupStore(config.common)
        if let store, !context.notReally {
            entry = try download(
                entry, from: store, config: config, destination: destination, log: log)
        }
        let copy = RestoreCopy(
            entry: entry, destination: destination, move: context.has("--move") || store != nil,
            keepOld: config.backupDatadir, keepOldCount: config.keepOldDatadirs,
            runner: context.runner, log: log, targetGuard: Self.targetGuard(config, entry: entry))
        // Every target's place is checked before the standby is stopped: a refusal changes
        // nothing. Whether a server runs in one is checked after the stop, in prepare().
        try copy.checkPlaces()
        let version = try backupVersion(entry)
        let job = Job(
            config: config, context: context, copy: copy, version: version,
            configFiles: try configFiles(destination, config: config, isStandby: isStandby),
            bin: isStandby ? try await standbyBin(version, entry: entry, context: context) : nil,
            target: target, plan: plan)
        log.info(
            "restoring \(entry.manifest.name) (PostgreSQL \(version.majorName), start WAL "
                + "\(entry.manifest.startWAL)) into \(destination)")
        if context.notReally {
            log.info("would stop the standby, copy \(entry.path), write recovery settings, start")
            return 0
        }
        return try await job.execute()
    }

    /// One restore into a destination at a time: a second one (or a cleanup) would remove the
    /// first one's staging dir while it copies. The lock is `<DST>.walmgr-restore.pid`, held with flock
    /// until this restore ends; one a killed restore left behind is not locked and is reused.
    static func lock(_ destination: String) throws -> DaemonLock {
        // A first restore on a fresh standby host: /var/lib/postgresql/16 may not exist yet.
        try Directories.make((destination as NSString).deletingLastPathComponent)
        let path = "\(destination).walmgr-restore.pid"
        guard let lock = try DaemonLock.take(path) else {
            let pid = DaemonControl.lockedPid(pidfile: path).map(String.init) ?? "unknown"
            throw WalmgrFailure(
                "another restore into \(destination) is running (pid \(pid), it holds \(path)); "
                    + "wait until it ends, or stop it, then try again. Nothing was changed")
        }
        return lock
    }

    /// From S3: the backup is downloaded (and checked) beside DST while the standby still runs,
    /// then moved into place like a local `--move`.
    static func download(
        _ entry: BackupCatalog.Entry, from store: S3BackupStore, config: SlaveConfig,
        destination: String, log: Log
    ) throws -> BackupCatalog.Entry {
        try S3RestoreDownload.fetch(
            entry, store: store, into: "\(destination).walmgr-s3",
            guardedBy: Self.targetGuard(config, entry: entry), log: log)
    }

    /// The config files the restored data dir gets; slave_data's standby must get some.
    static func configFiles(_ destination: String, config: SlaveConfig, isStandby: Bool) throws
        -> ConfigRestore.Choice
    {
        let configFiles = ConfigRestore.choose(
            destination: destination, config: config, isStandby: isStandby)
        if isStandby, configFiles == .none, config.slaveStartCmd == nil {
            throw StandbyError.noServerConfig(
                dataDir: destination, configFile: config.common.configFile)
        }
        return configFiles
    }

    /// pg_ctl of the backup's major, found before anything is stopped or moved.
    static func standbyBin(
        _ version: ServerVersion, entry: BackupCatalog.Entry, context: CommandContext
    ) async throws -> PGBin? {
        guard case .slave(let config) = context.config else { return nil }
        return try await StandbyBin.resolve(
            version, for: "backup \(entry.path)", config: config, runner: context.runner,
            log: context.log)
    }

    /// What restore may not replace: walmgr's own directories, the backup being restored,
    /// and anything above slave_data (slave_data itself is what restore replaces).
    static func targetGuard(_ config: SlaveConfig, entry: BackupCatalog.Entry) -> TargetGuard {
        let common = config.common
        return TargetGuard(
            keep: [
                .init(key: "walmgr_data", path: common.walmgrData ?? ""),
                .init(key: "completed_wals", path: common.completedWals),
                .init(key: "partial_wals", path: common.partialWals),
                .init(key: "full_backup", path: common.fullBackup),
                .init(key: "config_backup", path: common.configBackup),
                .init(key: "the backup being restored", path: entry.path),
            ],
            keepAbove: [.init(key: "slave_data", path: config.slaveData)])
    }

    /// Seconds since `start`, one decimal.
    static func seconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = start.duration(to: .now).components
        return String(format: "%.1f", Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
    }

    /// The named complete backup, or the newest one.
    static func pick(config: SlaveConfig, name: String?, log: Log) throws -> BackupCatalog.Entry {
        let fullBackup = try config.need(
            config.common.fullBackup, key: "full_backup", for: "restore")
        let catalog = BackupCatalog(fullBackup: fullBackup)
        let store = try S3BackupStore(config.common)
        let complete = try store?.list() ?? catalog.complete()
        guard let name else {
            guard let newest = complete.first else {
                throw StandbyError.noBackup(
                    fullBackup: fullBackup,
                    inProgress: store == nil && StandbyFiles.exists(catalog.inProgress))
            }
            return newest
        }
        guard let entry = complete.first(where: { $0.manifest.name == name }) else {
            throw StandbyError.unknownBackup(name: name, available: complete.map(\.manifest.name))
        }
        return entry
    }

    /// The backup's PG_VERSION.
    static func backupVersion(_ entry: BackupCatalog.Entry) throws -> ServerVersion {
        if S3Repository.isS3(entry.path), entry.manifest.pgVersion > 0 {
            return ServerVersion(num: entry.manifest.pgVersion)  // --dry-run: not downloaded
        }
        let path = "\(entry.path)/PG_VERSION"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let version = ServerVersion(pgVersionFile: text)
        else { throw FileError("read PG_VERSION of the backup at", path, errno: ENOENT) }
        return version
    }

    /// Config files, recovery settings and control files for the staged data dir.
    static func configure(
        _ staging: String, destination: String, configFiles: ConfigRestore.Choice,
        config: SlaveConfig, version: ServerVersion, slot: String? = nil, log: Log,
        target: (RecoveryTarget, timeline: String, standby: Bool)? = nil
    ) throws {
        let common = config.common
        let record =
            "\(common.walmgrData ?? (common.completedWals as NSString).deletingLastPathComponent)/config.restored"
        try ConfigRestore.apply(
            configFiles, staging: staging, destination: destination,
            configBackup: common.configBackup, record: record, log: log)
        var inputs = RecoverySettings.Inputs(
            walmgr: CommandContext.executablePath, configFile: common.configFile,
            primaryConninfo: common.primaryConninfo,
            triggerFile: "\(config.slaveData)/\(Boot.triggerFileName)", primarySlotName: slot)
        if let (recoveryTarget, timeline, standby) = target {
            inputs.target = recoveryTarget
            inputs.targetTimeline = timeline
            inputs.standby = standby
        }
        try RecoveryWriter.write(
            RecoverySettings.render(for: version, inputs), into: staging, log: log)
        let files = StandbyFiles(common)
        // A STOP left by an earlier boot would make xrestore serve partial segments at once.
        try StandbyFiles.remove(files.stopFile)
        if StandbyFiles.exists(files.pauseFile) {
            log.warning("\(files.pauseFile) exists: replay stays paused until `continue`")
        }
    }
}
