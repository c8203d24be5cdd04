import Foundation

/// `status` on the master: archiving, backlog, syncdaemon, and the newest backup on the slave.
struct MasterStatus {
    let config: MasterConfig
    let context: CommandContext
    let report: StatusReport

    static let archiverSQL = """
        SELECT current_setting('archive_mode') AS archive_mode,
          last_archived_wal,
          to_char(last_archived_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            AS last_archived_time,
          extract(epoch FROM now() - last_archived_time)::bigint AS last_archived_age,
          failed_count, last_failed_wal,
          to_char(last_failed_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            AS last_failed_time,
          (last_failed_time IS NOT NULL AND
            (last_archived_time IS NULL OR last_failed_time > last_archived_time)) AS failing
        FROM pg_stat_archiver
        """

    func run() async {
        let common = config.common
        report.set(
            "thresholds",
            .object([
                "status_max_archive_age": .int(Int64(common.statusMaxArchiveAgeSeconds)),
                "status_max_ready": .int(Int64(common.statusMaxReadyFiles)),
            ]))
        archiving()
        replication()
        syncdaemon()
        await backups()
    }

    /// pg_stat_archiver, the `.ready` backlog and walmgr's stop marker.
    func archiving() {
        let common = config.common
        let ready = MasterStop.readyCount(dataDir: config.masterData)
        let stopped = access(MasterStop.stopFile(config), F_OK) == 0
        var fields: [String: JSONValue] = [
            "ready_files": .int(Int64(ready)), "paused_by_walmgr_stop": .bool(stopped),
        ]
        if stopped {
            report.problem(
                "archiving is paused by walmgr stop (\(MasterStop.stopFile(config)) exists): WAL "
                    + "piles up in pg_wal; resume with walmgr \(common.configFile) setup")
        }
        if ready > common.statusMaxReadyFiles {
            report.problem(
                "\(ready) WAL files wait to be archived (more than status_max_ready = "
                    + "\(common.statusMaxReadyFiles))")
        }
        do {
            let db = try PGConnection(conninfo: config.masterDb ?? "")
            let row = try db.query(Self.archiverSQL)
            fields.merge(Self.archiverFields(row), uniquingKeysWith: { $1 })
            judge(row, ready: ready)
        } catch {
            report.problem("cannot read pg_stat_archiver: \(error)")
        }
        report.set("archiving", .object(fields))
    }

    static func archiverFields(_ row: PGResult) -> [String: JSONValue] {
        [
            "archive_mode": .text(row[0, "archive_mode"]),
            "last_archived_wal": .text(row[0, "last_archived_wal"]),
            "last_archived_time": .text(row[0, "last_archived_time"]),
            "last_archived_age_seconds": .number(row.int(row: 0, column: "last_archived_age")),
            "failed_count": .number(row.int(row: 0, column: "failed_count")),
            "last_failed_wal": .text(row[0, "last_failed_wal"]),
            "last_failed_time": .text(row[0, "last_failed_time"]),
            "failing": .bool(row.bool(row: 0, column: "failing") == true),
        ]
    }

    /// Problems from pg_stat_archiver: archiving off, failing, or too old with a backlog.
    func judge(_ row: PGResult, ready: Int) {
        let maxAge = config.common.statusMaxArchiveAgeSeconds
        if let mode = row[0, "archive_mode"], mode == "off" {
            report.problem("archive_mode is off: nothing is archived (walmgr INI setup, restart)")
        }
        if row.bool(row: 0, column: "failing") == true {
            let wal = row[0, "last_failed_wal"] ?? "?"
            let time = row[0, "last_failed_time"] ?? "?"
            report.problem(
                "archiving is failing: the last attempt for \(wal) failed at \(time) (failed_count "
                    + "\(row[0, "failed_count"] ?? "?")); the PostgreSQL log has xarchive's error")
        }
        if ready > 0, let age = row.int(row: 0, column: "last_archived_age"), age > maxAge {
            report.problem(
                "the last WAL was archived \(age) s ago (more than status_max_archive_age = "
                    + "\(maxAge)) while \(ready) wait")
        }
    }

    /// Whether syncdaemon runs, and when its last round saved a position.
    func syncdaemon() {
        let pid = DaemonControl.lockedPid(pidfile: config.common.pidfile)
        var fields: [String: JSONValue] = [
            "running": .bool(pid != nil), "pid": .number(pid),
            "pidfile": .text(config.common.pidfile),
        ]
        // syncdaemon saves where its last round ended in this file (Daemon/SyncState.swift).
        let state = "\(config.masterData)/.walshipping.sync"
        if let text = try? String(contentsOfFile: state, encoding: .utf8),
            let attributes = try? FileManager.default.attributesOfItem(atPath: state),
            let date = attributes[.modificationDate] as? Date
        {
            fields["last_round_position"] = .string(
                text.trimmingCharacters(in: .whitespacesAndNewlines))
            fields["last_round_time"] = .string(BackupManifest.isoTime(date))
            fields["last_round_age_seconds"] = .number(Age.seconds(since: date))
        }
        report.set("syncdaemon", .object(fields))
    }

    /// The slave's backups, through `listbackups --json` there.
    func backups() async {
        do {
            let link = try SlaveLink(config: config, invocation: context.invocation)
            let result = try await link.run(
                "listbackups", ["--json"], runner: context.runner, timeout: .seconds(60))
            let manifests = try JSONDecoder().decode(
                [BackupManifest].self, from: Data(result.stdout))
            report.set("slave", .string(link.hostDescription))
            report.set("backups", BackupSummary.json(manifests))
            if !manifests.contains(where: { $0.status == "complete" }) {
                report.problem(
                    "no complete backup on the slave: walmgr \(config.common.configFile) backup")
            }
        } catch {
            report.problem("cannot list backups on the slave: \(error)")
        }
    }
}

/// The `backups` section both roles print: count and the newest complete backup with its age.
enum BackupSummary {
    static func json(_ manifests: [BackupManifest]) -> JSONValue {
        let complete = manifests.filter { $0.status == "complete" }
        var fields: [String: JSONValue] = [
            "count": .int(Int64(complete.count)),
            "in_progress": .bool(manifests.contains { $0.status == BackupManifest.inProgress }),
        ]
        if let newest = complete.first {
            fields["newest"] = .object([
                "name": .string(newest.name), "label": .string(newest.label),
                "stop_time": .string(newest.stopTime), "start_wal": .string(newest.startWAL),
                "age_seconds": .number(Age.seconds(sinceISO: newest.stopTime)),
                "size_bytes": .int(newest.sizeBytes),
            ])
        }
        return .object(fields)
    }
}
