import Foundation

/// `status` on the slave: the standby's recovery and lag, archived WAL, backups, PAUSE/STOP.
struct SlaveStatus {
    let config: SlaveConfig
    let context: CommandContext
    let report: StatusReport
    /// An S3 archive is listed once for the archive fields and the recoverable window.
    let s3Listing = S3ListingCache()

    static let recoverySQL = """
        SELECT pg_is_in_recovery() AS in_recovery,
          pg_last_wal_replay_lsn()::text AS replay_lsn,
          pg_last_wal_receive_lsn()::text AS receive_lsn,
          pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
            AS lag_bytes,
          CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::bigint
          END AS lag_seconds,
          to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_replay_time,
          (SELECT status FROM pg_stat_wal_receiver) AS receiver_status,
          (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS sender,
          (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')
            AS segment_size
        """

    func run() async {
        let common = config.common
        let files = StandbyFiles(common)
        let newest = archive()
        report.set(
            "control",
            .object([
                "paused": .bool(StandbyFiles.exists(files.pauseFile)),
                "stop_file": .bool(StandbyFiles.exists(files.stopFile)),
            ]))
        backups()
        receiver()
        standby(newestArchived: newest)
    }

    /// completed_wals: file count, the newest segment and how old it is.
    func archive() -> String? {
        let dir = config.common.completedWals
        if S3Repository.isS3(dir) {
            do {
                guard let listing = try s3Listing.read(config.common) else { return nil }
                report.set(
                    "completed_wals",
                    .object(
                        listing.statusFields(path: dir).merging(standbyFloor()) { $1 }))
                return listing.newestSegment?.wal
            } catch {
                report.set("completed_wals", .object(["path": .string(dir)]))
                report.problem("cannot list completed_wals \(dir): \(error)")
                return nil
            }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            report.problem("cannot read completed_wals \(dir): \(FileError("list", dir))")
            return nil
        }
        let segments = names.compactMap { stored -> (String, String)? in
            guard let wal = WALPurge.walName(stored: stored), wal.kind == .segment else {
                return nil
            }
            return (wal.name, stored)
        }
        // Order by position, then timeline: a promoted timeline's segment comes later.
        let newest = segments.max {
            (String($0.0.dropFirst(8)), $0.0) < (String($1.0.dropFirst(8)), $1.0)
        }
        var fields: [String: JSONValue] = [
            "path": .string(dir), "segments": .int(Int64(segments.count)),
            "newest_wal": .text(newest?.0),
        ]
        if let newest,
            let attributes = try? FileManager.default.attributesOfItem(
                atPath: "\(dir)/\(newest.1)"),
            let date = attributes[.modificationDate] as? Date
        {
            fields["newest_wal_time"] = .string(BackupManifest.isoTime(date))
            fields["newest_wal_age_seconds"] = .number(Age.seconds(since: date))
        }
        report.set("completed_wals", .object(fields.merging(standbyFloor()) { $1 }))
        return newest?.0
    }

    /// `kept_for_standby`: the first WAL `xpurgewals` keeps for the standby in slave_data
    /// (``StandbyFloor``), so a growing archive held by a lagging or abandoned standby shows.
    func standbyFloor() -> [String: JSONValue] {
        let floors = StandbyFloor.onThisHost(config)
        if let why = floors.lazy.compactMap(\.unknown).first {
            report.problem("archived WAL is never purged: \(why)")
        }
        guard case .wal(let wal, _) = floors.first else { return [:] }
        return ["kept_for_standby": .string(wal)]
    }

    func backups() {
        let full = config.common.fullBackup
        guard !full.isEmpty else {
            report.problem(
                "full_backup is not set: \(config.common.missing("full_backup", "status"))")
            return
        }
        let manifests: [BackupManifest]
        do {
            if let store = try S3BackupStore(config.common) {
                manifests = try store.list().map(\.manifest)
            } else if let blocked = PathCheck.unreadable(SlaveCheck.backupDir(full)) {
                // Could not look: say why, not "no complete backup".
                report.problem("cannot read full_backup: \(blocked.detail); fix: \(blocked.fix)")
                return
            } else {
                manifests = BackupCatalog(fullBackup: full).list().map(\.manifest)
            }
        } catch {
            report.problem("cannot list the backups in \(full): \(error)")
            return
        }
        report.set("backups", BackupSummary.json(manifests))
        recoverableWindow(manifests)
        if !manifests.contains(where: { $0.status == "complete" }) {
            report.problem(
                "no complete backup under \(full): take one with walmgr MASTER.ini backup")
        }
    }

    /// The overall window point-in-time recovery can reach, and a problem when a missing
    /// segment cuts the newest backup's window short.
    func recoverableWindow(_ manifests: [BackupManifest]) {
        let index =
            S3Repository.isS3(config.common.completedWals)
            ? try? s3Listing.read(config.common)?.index()
            : try? ArchiveIndex.read(config.common.completedWals)
        guard let archive = index else { return }
        let windows = manifests.compactMap { RecoverableWindow.of($0, archive: archive) }
        let usable = windows.filter { $0.to != nil }
        var fields: [String: JSONValue] = [
            "from": .text(usable.compactMap(\.from).min()),
            "to": .text(usable.compactMap(\.to).max()),
            "approximate": .string("times of archived segments are their files' mtimes"),
        ]
        if let newest = windows.first, let gap = newest.gap {
            fields["gap"] = .string(gap)
            report.problem(
                "gap in \(config.common.completedWals): \(gap) is missing but later WAL exists, so "
                    + "recovery from the newest backup stops at \(newest.last ?? "its start") "
                    + "(archived \(newest.to ?? "-")); copy \(gap) from the master's pg_wal if it is "
                    + "still there, else take a new backup (walmgr MASTER.ini backup)")
        }
        report.set("recoverable_window", .object(fields))
    }
}
