import Foundation

/// `check` on the slave: directories, programs, the standby's data dir and settings, backups
/// and the WAL after the newest one.
struct SlaveCheck {
    let config: SlaveConfig
    let context: CommandContext
    let report: CheckReport

    func run() async {
        let common = config.common
        let ini = common.configFile
        if let data = common.walmgrData { report.add(PathCheck.writableDir("walmgr_data", data)) }
        guard !common.completedWals.isEmpty else {
            report.add(.fail("completed_wals", "\(common.missing("completed_wals", "check"))"))
            return
        }
        report.add(
            S3Probe.check(common)
                ?? PathCheck.writableDir("completed_wals", common.completedWals, mustExist: true))
        receiverArchive()
        let backupParent =
            S3Repository.isS3(common.fullBackup)
            ? "" : (common.fullBackup as NSString).deletingLastPathComponent
        for (key, path) in [
            ("partial_wals", common.partialWals), ("config_backup", common.configBackup),
            ("full_backup", backupParent),
        ] where !path.isEmpty {
            report.add(PathCheck.writableDir(key, path))
        }
        if let logfile = common.logfile { report.add(PathCheck.writableFile("logfile", logfile)) }
        report.add(await programs())
        report.add(PathCheck.tools(["rsync"]))
        if config.slaveData.isEmpty {
            report.add(.fail("slave_data", "\(common.missing("slave_data", "check"))"))
        } else {
            await dataDir(ini: ini)
        }
        streamingConnection()
        receiverConnection()
        backupsAndWAL()
    }

    /// `receive_*` keys with an `s3://` completed_wals: receive refuses to start on that, so
    /// check says so now, with the same fix.
    func receiverArchive() {
        let common = config.common
        guard config.receive.configured, S3Repository.isS3(common.completedWals) else { return }
        let refusal = ReceiveError.s3Archive(
            completedWals: common.completedWals, configFile: common.configFile)
        report.add(.fail("receive", "\(refusal)"))
    }

    /// The WAL receiver's connection, when `receive_conninfo` names another than
    /// primary_conninfo (otherwise the streaming check above covers it).
    func receiverConnection() {
        guard let conninfo = config.receive.conninfo, !conninfo.isEmpty,
            conninfo != config.common.primaryConninfo
        else { return }
        let user = Conninfo.value("user", in: conninfo) ?? UserAccount.currentName
        let outcome = ReplicationProbe.probe(primaryConninfo: conninfo)
        if let why = outcome.explained(user: user, configFile: config.common.configFile) {
            report.add(.fail("receiver connection", why + " (receive_conninfo)"))
        } else {
            report.add(
                .pass(
                    "receiver connection",
                    "the master accepts the receiver's replication connection as \(user) "
                        + "(receive_conninfo)"))
        }
    }

    /// The standby's own replication connection (primary_conninfo, replication=true).
    func streamingConnection() {
        guard let conninfo = config.common.primaryConninfo, !conninfo.isEmpty else { return }
        let user = ReplicationProbe.user(primaryConninfo: conninfo)
        let outcome = ReplicationProbe.probe(primaryConninfo: conninfo)
        if let why = outcome.explained(user: user, configFile: config.common.configFile) {
            report.add(.fail("streaming connection", why))
        } else {
            report.add(
                .pass(
                    "streaming connection",
                    "the master accepts a replication connection as \(user) (primary_conninfo)"))
        }
    }

    /// pg_ctl and pg_controldata of the cluster's major: slave_data's PG_VERSION, else the
    /// newest backup's; slave_bin or PATH as they are when neither exists yet.
    func programs() async -> CheckResult {
        let names = ["pg_ctl", "pg_controldata"]
        let backup =
            config.common.fullBackup.isEmpty
            ? nil : BackupCatalog(fullBackup: config.common.fullBackup).complete().first?.path
        let cluster = [config.slaveData, backup].compactMap { $0 }.filter { !$0.isEmpty }
            .compactMap { dir in StandbyBin.dataDirVersion(dir).map { (dir, $0) } }.first
        guard let (dir, version) = cluster else {
            return PathCheck.programs(names, bin: config.slaveBin, key: "slave_bin")
        }
        do {
            let bin = try await StandbyBin.resolve(
                version, for: dir, config: config, runner: context.runner, log: context.log)
            return PathCheck.programs(names, bin: bin.directory, key: "slave_bin")
        } catch {
            return .fail("slave_bin programs", "\(error)")
        }
    }

    /// The data dir: restored, running, standby.signal, restore_command, connection.
    func dataDir(ini: String) async {
        let data = config.slaveData
        guard access("\(data)/PG_VERSION", F_OK) == 0 else {
            report.add(
                .fail(
                    "standby", "\(data) holds no cluster yet (no PG_VERSION)",
                    fix: "take a backup on the master (walmgr MASTER.ini backup), then walmgr "
                        + "\(ini) restore"))
            return
        }
        let state = StandbyState(dataDir: data)
        let server = StandbyServer(config, runner: context.runner, log: context.log)
        let pid = server.runningPID
        report.add(state.checkRecoverySettings(ini: ini))
        guard let pid else {
            report.add(
                .fail(
                    "standby", "\(data) is stopped (\(state.signalDescription))",
                    fix: "start it with slave_start_cmd or pg_ctl -D \(ShellWords.quote(data)) "
                        + "start; see its log under \(data)/log"))
            return
        }
        await report.run("standby") {
            let db = try server.connect()
            let inRecovery = try db.scalar("SELECT pg_is_in_recovery()") == "t"
            let role = inRecovery ? "in recovery (standby)" : "not in recovery (promoted)"
            return .pass(
                "standby", "\(data) running (pid \(pid)), \(role), \(state.signalDescription)")
        }
    }

    /// A complete backup exists, and WAL from its start is contiguous past its stop.
    func backupsAndWAL() {
        let common = config.common
        guard !common.fullBackup.isEmpty else {
            report.add(.fail("backup", "\(common.missing("full_backup", "check"))"))
            return
        }
        if S3Repository.isS3(common.fullBackup) {
            let (result, newest) = s3Backups()
            report.add(result)
            // The bucket holds the backup, the archive (here or in S3) the WAL it needs.
            if let newest { report.add(Self.continuity(common, manifest: newest)) }
            return
        }
        if let blocked = PathCheck.unreadable(Self.backupDir(common.fullBackup)) {
            // An empty listing here means "could not look", not "no backup".
            report.add(.fail("backup", blocked.detail, fix: blocked.fix))
            return
        }
        guard let newest = BackupCatalog(fullBackup: common.fullBackup).complete().first else {
            report.add(
                .fail(
                    "backup", "no complete backup under \(common.fullBackup)",
                    fix: "walmgr MASTER.ini backup (on the master) or walmgr \(common.configFile) "
                        + "backup (from this standby)"))
            return
        }
        let m = newest.manifest
        let when = m.startTime.isEmpty ? "" : " from \(m.startTime)"
        report.add(.pass("backup", "\(m.name)\(when), start WAL \(m.startWAL)"))
        report.add(Self.continuity(common, manifest: m))
    }

    /// The newest backup in an S3 full_backup (listing the bucket proves it is reachable),
    /// and its manifest for the WAL check.
    func s3Backups() -> (CheckResult, BackupManifest?) {
        do {
            guard let store = try S3BackupStore(config.common) else {
                return (.pass("backup", ""), nil)
            }
            guard let m = try store.list().first?.manifest else {
                let fix = "walmgr MASTER.ini backup (on the master)"
                return (
                    .fail("backup", "no complete backup in \(config.common.fullBackup)", fix: fix),
                    nil
                )
            }
            let detail = "\(store.describe(m.name)) from \(m.startTime), start WAL \(m.startWAL)"
            return (.pass("backup", detail), m)
        } catch {
            return (.fail("backup", "\(error)"), nil)
        }
    }

    /// The directory that holds full_backup and its rotated copies.
    static func backupDir(_ fullBackup: String) -> String {
        let parent = (fullBackup as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    /// The WAL after the backup in completed_wals: a directory, or an S3 prefix (listed).
    static func continuity(_ common: CommonConfig, manifest m: BackupManifest) -> CheckResult {
        let dir = common.completedWals
        guard S3Repository.isS3(dir) else {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return continuity(
                dir: dir, names: names, size: WALContinuity.segmentSize(in: dir, names: names),
                manifest: m)
        }
        do {
            guard let listing = try S3ArchiveListing.read(common) else {
                return .fail("WAL after backup", "cannot list \(dir)")
            }
            return continuity(
                dir: dir, names: listing.names, size: listing.segmentSize, manifest: m)
        } catch {
            return .fail("WAL after backup", "cannot list \(dir): \(error)")
        }
    }

    static func continuity(dir: String, names: [String], size: UInt64, manifest m: BackupManifest)
        -> CheckResult
    {
        let stop = m.stopWAL.isEmpty ? m.startWAL : m.stopWAL
        guard
            let scan = WALContinuity.scan(
                names: names, start: m.startWAL, stop: stop, segmentSize: size)
        else {
            return .fail("WAL after backup", "\(m.name) has no usable start_wal (\(m.startWAL))")
        }
        let fix =
            "the master still has it in pg_wal only if it was never archived: run walmgr "
            + "MASTER.ini check --archive; otherwise take a new backup"
        guard scan.reachesStop else {
            return .fail(
                "WAL after backup",
                "\(scan.missing) is missing from \(dir): \(m.name) needs "
                    + "\(m.startWAL)…\(stop) to be consistent", fix: fix)
        }
        if let later = scan.laterExisting {
            return .fail(
                "WAL after backup",
                "gap in \(dir): \(scan.missing) is missing, but \(later) "
                    + "exists; replay stops at the gap", fix: fix)
        }
        return .pass(
            "WAL after backup",
            "contiguous from \(scan.first) to \(scan.last ?? "-") "
                + "(\(scan.count) segments)")
    }
}
