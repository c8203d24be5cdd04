import Foundation

/// `check` on the master: config, directories, database, archiving settings, the slave.
struct MasterCheck {
    let config: MasterConfig
    let context: CommandContext
    let report: CheckReport

    func run() async {
        let common = config.common
        report.add(PathCheck.readableDir("master_data", config.masterData))
        report.add(PathCheck.writableDir("master_data", config.masterData, mustExist: true))
        if let logfile = common.logfile { report.add(PathCheck.writableFile("logfile", logfile)) }
        if let pidfile = common.pidfile { report.add(PathCheck.writableFile("pidfile", pidfile)) }
        if config.masterBin != nil {
            report.add(PathCheck.programs(["pg_ctl"], bin: config.masterBin, key: "master_bin"))
        }
        report.add(PathCheck.tools(config.slaveIsLocal ? ["rsync"] : ["rsync", "ssh"]))
        for (key, value) in config.misroutedDirectoryKeys { report.add(misrouted(key, value)) }
        if let db = connect() {
            await archiving(db)
            await streaming(db)
        }
        if access(MasterStop.stopFile(config), F_OK) == 0 {
            report.add(
                .fail(
                    "archiving paused",
                    "\(MasterStop.stopFile(config)) exists (walmgr stop): "
                        + "xarchive fails on purpose and WAL piles up in pg_wal",
                    fix: "walmgr \(common.configFile) setup"))
        }
        if let probe = S3Probe.backupCheck(common) { report.add(probe) }
        if let probe = S3Probe.check(common) {
            // WAL goes to the bucket, not the slave: the slave's dirs and xwalcheck do not apply.
            report.add(probe)
            if config.slave != nil, let link = slaveLink() { _ = await slaveAnswers(link) }
            return
        }
        guard let link = slaveLink() else { return }
        guard await slaveAnswers(link) else { return }
        let blocked = await slaveSpace(link)
        guard context.has("--archive") else { return }
        if let blocked {
            // xarchive cannot store the segment; waiting archiveWait seconds would only hide that.
            report.add(
                .fail(
                    "archive round trip",
                    "not tried: xarchive cannot write the slave's completed_wals: \(blocked)"))
        } else {
            await archiveRoundTrip(link)
        }
    }

    /// A directory key whose `host:` is not the slave's: the master commands would use two places.
    func misrouted(_ key: String, _ value: String) -> CheckResult {
        let slave = config.slaveDirectoryHost
        let place = slave.map { "the slave \($0)" } ?? "this machine (slave is local)"
        return .fail(
            key,
            "\(key) = \(value) names another host than \(place) in \(config.common.configFile); "
                + "with a remote slave every directory key is on the slave",
            fix: "write \(key) = \(Location(value).path) (a plain path on the slave), "
                + "or \(slave ?? "localhost"):\(Location(value).path)")
    }

    /// Connects with master_db and reports the server version; nil (and a FAIL) when it cannot.
    func connect() -> PGConnection? {
        guard let conninfo = config.masterDb, !conninfo.isEmpty else {
            report.add(
                .fail(
                    "master_db", "not set in \(config.common.configFile)",
                    fix: "add master_db = dbname=postgres host=/var/run/postgresql"))
            return nil
        }
        do {
            let db = try PGConnection(conninfo: conninfo)
            let version = db.serverVersion
            report.add(.pass("database", "connected to \(Conninfo.masked(conninfo)): \(version)"))
            return db
        } catch {
            report.add(
                .fail(
                    "database", "\(error)",
                    fix: "start PostgreSQL or correct master_db (\(Conninfo.masked(conninfo)))"))
            return nil
        }
    }

    /// archive_mode, archive_command (this walmgr, this ini), wal_level, pending_restart.
    func archiving(_ db: PGConnection) async {
        let ini = config.common.configFile
        await report.run("archive settings") {
            let rows = try db.query(
                "SELECT name, setting, pending_restart FROM pg_settings WHERE name IN "
                    + "('archive_mode', 'archive_command', 'archive_library', 'wal_level')"
                    + " OR pending_restart")
            var settings: [String: String] = [:]
            var pending: [String] = []
            for i in 0..<rows.count {
                let name = rows[i, "name"] ?? ""
                settings[name] = rows[i, "setting"] ?? ""
                if rows.bool(row: i, column: "pending_restart") == true { pending.append(name) }
            }
            report.add(Self.archiveMode(settings["archive_mode"] ?? "", ini: ini))
            report.add(Self.walLevel(settings["wal_level"] ?? ""))
            report.add(
                Self.archiveCommand(
                    live: settings["archive_command"] ?? "",
                    library: settings["archive_library"] ?? "",
                    expected: MasterSetup.archiveCommand(config: config), ini: ini))
            return Self.pendingRestart(pending, restart: config.masterRestartCmd)
        }
    }

    func slaveLink() -> SlaveLink? {
        do {
            return try SlaveLink(
                config: config, invocation: context.invocation, reuseConnection: false)
        } catch {
            report.add(.fail("slave", "\(error)"))
            return nil
        }
    }
}
