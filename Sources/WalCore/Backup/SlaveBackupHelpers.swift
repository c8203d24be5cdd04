import Foundation

/// The slave-side helpers the master calls (locally or over ssh) while it takes a backup:
/// `xlock`, `xrelease`, `xrotate`, `xpurgewals`, `xbackupprep`, `xbackupfile`, `xwalcheck`.
enum SlaveBackupHelpers {
    /// Files `xbackupfile` may write into the in-progress backup.
    static let backupFiles: Set<String> = [
        "backup_label", "tablespace_map", BackupManifest.fileName,
    ]

    static func catalog(_ context: CommandContext, for command: String) throws -> BackupCatalog {
        let common = context.config.common
        return BackupCatalog(
            fullBackup: try common.need(common.fullBackup, key: "full_backup", for: command))
    }

    static func completedWals(_ context: CommandContext, for command: String) throws -> String {
        let common = context.config.common
        return try common.need(common.completedWals, key: "completed_wals", for: command)
    }

    /// Where BACKUPLOCK lives (see ``S3Backup/lockDirectory(_:completedWals:)``).
    static func lockDirectory(_ context: CommandContext, for command: String) throws -> String {
        S3Backup.lockDirectory(
            context.config.common, completedWals: try completedWals(context, for: command))
    }

    /// `xlock [PID [HOST]]`: take the backup lock for the master's walmgr (PID on HOST). Without
    /// a PID it is a DBA's manual lock: it records no pid, so it is never taken for stale and
    /// every backup is refused until `xrelease`.
    static func lock(_ context: CommandContext) async throws -> Int32 {
        let args = context.arguments
        let host = args.count > 1 ? args[1] : BackupLock.hostName
        // The host goes into the lock file line by line: a newline would forge its pid.
        guard Location.isValidHost(host) else {
            throw WalmgrFailure(
                "xlock: HOST must be a host name, got \(host.debugDescription)", exitCode: 64)
        }
        let since = BackupManifest.isoTime(Date())
        let holder: BackupLock.Holder
        if let text = args.first {
            guard let pid = Int32(text), pid > 0 else {
                throw WalmgrFailure(
                    "xlock: PID must be a number, got \(text.debugDescription)", exitCode: 64)
            }
            holder = BackupLock.Holder(pid: pid, host: host, since: since)
        } else {
            holder = .manual(host: host, since: since)
        }
        let lock = BackupLock(completedWals: try lockDirectory(context, for: "xlock"))
        try lock.acquire(holder, log: context.log)
        if holder.manual {
            context.log.info(
                "backup lock \(lock.path) taken by hand: backups are refused until "
                    + "`walmgr \(context.config.common.configFile) xrelease`")
        } else {
            context.log.debug("backup lock \(lock.path) taken by pid \(holder.pid) on \(host)")
        }
        return 0
    }

    /// `xrelease [PID]`: drop the backup lock (only PID's, when given).
    static func release(_ context: CommandContext) async throws -> Int32 {
        let lock = BackupLock(completedWals: try lockDirectory(context, for: "xrelease"))
        // A PID that is not a number must not fall back to "release whoever holds it".
        let pid = try context.arguments.first.map { text in
            guard let pid = Int32(text), pid > 0 else {
                throw WalmgrFailure(
                    "xrelease: PID must be a number, got \(text.debugDescription)", exitCode: 64)
            }
            return pid
        }
        if try lock.release(pid: pid) {
            context.log.debug("backup lock \(lock.path) released")
        } else {
            context.log.info("no backup lock to release in \(lock.path)")
        }
        return 0
    }

    /// `xrotate [KEEP]`: put the complete in-progress backup in place and drop old ones. KEEP is
    /// the master's keep_backups: the user sets it in the ini they run `backup` with, and the
    /// slave's own (0 as `--init-slave` writes it) must not delete what the master keeps.
    static func rotate(_ context: CommandContext) async throws -> Int32 {
        let own = context.config.common.keepBackups
        let keep = try rotationKeep(context.arguments.first, own: own)
        if keep != own {
            context.log.info(
                "keeping \(keep) older backups (keep_backups of the master's backup; "
                    + "\(context.config.common.configFile) says \(own))")
        }
        let rotation = BackupRotation(
            catalog: try catalog(context, for: "xrotate"), keep: keep,
            hook: context.config.slave?.archiveCommand)
        try await rotation.rotate(runner: context.runner, log: context.log)
        return 0
    }

    /// The larger of `argument` (the master's keep_backups, when given) and `own`: of two
    /// configs, the one that keeps more wins, so no backup is removed that either keeps.
    static func rotationKeep(_ argument: String?, own: Int) throws -> Int {
        guard let argument else { return own }
        guard let keep = Int(argument), keep >= 0 else {
            throw WalmgrFailure(
                "xrotate: KEEP must be a number of backups (0 or more), got "
                    + "\(argument.debugDescription)", exitCode: 64)
        }
        return max(keep, own)
    }

    /// `xpurgewals [START_WAL]`: remove archived WAL older than the oldest kept backup (and
    /// than START_WAL, the master's oldest S3 backup, when given), keeping what the standby in
    /// slave_data still needs.
    static func purge(_ context: CommandContext) async throws -> Int32 {
        try S3Backup.purge(
            context.config.common, floor: context.arguments.first,
            standby: context.config.slave.map(StandbyFloor.onThisHost) ?? [], log: context.log)
        return 0
    }

    /// `xstandbyfloor`: one line for each floor ``StandbyFloor/onThisHost(_:)`` finds, for
    /// the master's purge of an S3 archive (which the slave's xpurgewals never runs on).
    static func standbyFloor(_ context: CommandContext) async throws -> Int32 {
        guard let slave = context.config.slave else { return 1 }
        for line in StandbyFloor.onThisHost(slave).compactMap(\.line) { print(line) }
        return 0
    }

    /// `xbackupprep [--abort]`: a fresh, empty in-progress dir (or, with --abort, none).
    static func prepare(_ context: CommandContext) async throws -> Int32 {
        let catalog = try catalog(context, for: "backup")
        let fm = FileManager.default
        if fm.fileExists(atPath: catalog.inProgress) {
            try TreeRemoval.remove(catalog.inProgress)
            if !context.has("--abort") {
                context.log.info("removed the unfinished backup \(catalog.inProgress)")
            }
        }
        if context.has("--abort") { return 0 }
        BackupRotation(catalog: catalog, keep: 0, hook: nil).removeLeftovers()
        try Directories.make(catalog.parent)
        try Directories.make("\(catalog.inProgress)/\(BackupCopy.tablespaceDir)")
        let configBackup = context.config.common.configBackup
        if !configBackup.isEmpty { try Directories.make(configBackup) }
        return 0
    }

    /// `xbackupfile NAME`: write stdin durably as NAME in the in-progress backup. The manifest
    /// comes last: the backup is sealed (flushed, checksums completed, backup_manifest written).
    static func writeFile(_ context: CommandContext) async throws -> Int32 {
        let name = context.arguments[0]
        guard backupFiles.contains(name) else { throw BackupError.badName(name) }
        let catalog = try catalog(context, for: "backup")
        let bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        if name == BackupManifest.fileName {
            try BackupSeal.seal(
                catalog.inProgress, manifest: try BackupManifest.decode(bytes),
                previous: IncrementalBase.find(catalog))
            return 0
        }
        try Durable.replace(bytes, at: "\(catalog.inProgress)/\(name)", mode: 0o600)
        return 0
    }

    /// Recreates pg_wal/archive_status and flushes the whole file system holding the backup.
    static func finishTree(_ dir: String) throws {
        try Directories.make("\(dir)/pg_wal/archive_status")
        try Durable.syncFileSystem(dir)
    }

    /// The most segments one `xwalcheck` looks for: 16 TiB of WAL at 16 MiB segments, far
    /// beyond one backup, and still a bounded loop and message.
    static let maxWALCheckRange: UInt64 = 1 << 20
    /// The longest `xwalcheck` WAIT, in seconds (backup passes 300, check 60).
    static let maxWALCheckWait = 86_400

    /// `xwalcheck FIRST LAST SEGSIZE [WAIT]`: every segment from FIRST to LAST is archived,
    /// waiting up to WAIT seconds (default 0) for the last ones to arrive.
    static func checkWAL(_ context: CommandContext) async throws -> Int32 {
        let (first, last, wait) = try walCheckArguments(context.arguments)
        let dir = try completedWals(context, for: "xwalcheck")
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let missing =
                try S3Backup.missingSegments(from: first, to: last, common: context.config.common)
                ?? missingSegments(from: first, to: last, in: dir)
            if missing.isEmpty { return 0 }
            guard ContinuousClock.now < deadline else {
                throw BackupError.missingWAL(names: missing, directory: dir)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Parses and bounds `FIRST LAST SEGSIZE [WAIT]` before any file is looked at.
    static func walCheckArguments(_ args: [String]) throws -> (WALSegment, WALSegment, Int) {
        let firstName = try WALName.validate(args[0])
        let lastName = try WALName.validate(args[1])
        guard let size = UInt64(args[2]), WALSegment.isValidSize(size) else {
            throw WalmgrFailure(
                "xwalcheck: SEGSIZE must be wal_segment_size in bytes, a power of two from "
                    + "1048576 to 1073741824; got \(args[2])", exitCode: 64)
        }
        guard let first = WALSegment(name: firstName.name, size: size),
            let last = WALSegment(name: lastName.name, size: size)
        else {
            throw WalmgrFailure(
                "xwalcheck: \(firstName) or \(lastName) is not a segment name PostgreSQL writes "
                    + "with \(size)-byte segments (the last 8 hex digits must be below "
                    + "\(WALSegment.hex8(WALSegment.perLog(size))))", exitCode: 64)
        }
        guard last.number < first.number || last.number - first.number < maxWALCheckRange else {
            throw WalmgrFailure(
                "xwalcheck: \(first) to \(last) spans more than \(maxWALCheckRange) segments; "
                    + "refusing to check that many", exitCode: 64)
        }
        let waitText = args.count > 3 ? args[3] : "0"
        guard let wait = Int(waitText), (0...maxWALCheckWait).contains(wait) else {
            throw WalmgrFailure(
                "xwalcheck: WAIT must be 0 to \(maxWALCheckWait) seconds, got \(waitText)",
                exitCode: 64)
        }
        return (first, last, wait)
    }

    /// Segment names from `first` to `last` that are in `dir` neither plain nor with a
    /// compression suffix. A segment counts on either timeline (a standby may switch mid-backup).
    static func missingSegments(from first: WALSegment, to last: WALSegment, in dir: String)
        -> [String]
    {
        let suffixes = [""] + WALPurge.compressionSuffixes
        let timelines = Set([first.timeline, last.timeline])
        return (first.number...max(first.number, last.number)).compactMap { number in
            let names = timelines.map {
                WALSegment(timeline: $0, number: number, size: first.size).name
            }
            let present = names.contains { name in
                suffixes.contains { access("\(dir)/\(name)\($0)", F_OK) == 0 }
            }
            return present
                ? nil : WALSegment(timeline: first.timeline, number: number, size: first.size).name
        }
    }
}
