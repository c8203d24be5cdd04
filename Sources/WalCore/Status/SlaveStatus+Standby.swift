import Foundation

/// The standby server's part of slave `status`: running, recovery, replay and receive LSN, lag.
extension SlaveStatus {
    func standby(newestArchived: String?) {
        let data = config.slaveData
        let state = StandbyState(dataDir: data, configDir: config.slaveConfigDir)
        var fields: [String: JSONValue] = ["data_dir": .string(data)]
        let old = data.isEmpty ? [] : OldDataDirs.list(data)
        if !old.isEmpty {
            fields["old_data_dirs"] = .object([
                "count": .int(Int64(old.count)), "size_bytes": .int(OldDataDirs.size(old)),
                "paths": .array(old.map(JSONValue.string)),
                "keep_old_datadirs": .int(Int64(config.keepOldDatadirs)),
            ])
        }
        guard !data.isEmpty, access("\(data)/PG_VERSION", F_OK) == 0 else {
            fields["state"] = .string("not restored")
            report.set("standby", .object(fields))
            return
        }
        fields["signal_file"] = .text(state.signal)
        let server = StandbyServer(config, runner: context.runner, log: context.log)
        guard let pid = server.runningPID else {
            fields["state"] = .string("stopped")
            fields["recovery_target"] = targetSection(state, db: nil, inRecovery: nil)
            report.set("standby", .object(fields))
            if state.signal != nil {
                report.problem(
                    "the standby in \(data) is stopped (\(state.signalDescription)): start it "
                        + "with slave_start_cmd or pg_ctl -D \(data) start")
            }
            return
        }
        fields["state"] = .string("running")
        fields["pid"] = .number(pid)
        do {
            let db = try server.connect()
            let row = try db.query(Self.recoverySQL)
            let hasTarget = !Self.targetSettings(state).isEmpty
            fields.merge(
                recoveryFields(row, newestArchived: newestArchived, hasTarget: hasTarget)
            ) { $1 }
            fields.merge(streamingFields(db)) { $1 }
            fields["recovery_target"] = targetSection(
                state, db: db, inRecovery: row.bool(row: 0, column: "in_recovery"))
        } catch {
            report.problem("cannot query the standby: \(error)")
        }
        report.set("standby", .object(fields))
    }

    /// Fields from the recovery query, and the lag problem when replay is behind for too long.
    /// With a recovery target replay stops there on purpose: its lag is no problem.
    func recoveryFields(_ row: PGResult, newestArchived: String?, hasTarget: Bool = false)
        -> [String: JSONValue]
    {
        let inRecovery = row.bool(row: 0, column: "in_recovery") == true
        let receiver = row[0, "receiver_status"]
        var fields: [String: JSONValue] = [
            "in_recovery": .bool(inRecovery),
            "replay_lsn": .text(row[0, "replay_lsn"]),
            "receive_lsn": .text(row[0, "receive_lsn"]),
            "lag_bytes": .number(row.int(row: 0, column: "lag_bytes")),
            "lag_seconds": .number(row.int(row: 0, column: "lag_seconds")),
            "last_replay_time": .text(row[0, "last_replay_time"]),
            "streaming": .bool(receiver == "streaming"),
            "wal_receiver_status": .text(receiver),
            "wal_sender": .text(row[0, "sender"]),
        ]
        guard inRecovery else {
            fields["role"] = .string("primary (promoted)")
            return fields
        }
        fields["role"] = .string("standby")
        let behindArchive = Self.replayBehind(
            replayLSN: row[0, "replay_lsn"], newest: newestArchived,
            segmentSize: row.int(row: 0, column: "segment_size").map(UInt64.init) ?? 16 << 20)
        fields["replay_behind_archive"] = .bool(behindArchive)
        let maxAge = config.common.statusMaxArchiveAgeSeconds
        let lagBytes = row.int(row: 0, column: "lag_bytes") ?? 0
        if !hasTarget, let lag = row.int(row: 0, column: "lag_seconds"), lag > maxAge,
            lagBytes > 0 || behindArchive
        {
            report.problem(
                "replay is \(lag) s behind (more than status_max_archive_age = \(maxAge))"
                    + (StandbyFiles.exists(StandbyFiles(config.common).pauseFile)
                        ? "; replay is paused (PAUSE file): walmgr INI continue" : ""))
        }
        return fields
    }

    /// True when archived WAL exists past the segment replay is in.
    static func replayBehind(replayLSN: String?, newest: String?, segmentSize: UInt64) -> Bool {
        guard let replayLSN, let lsn = LSN(replayLSN), let newest,
            let archived = WALSegment(name: newest, size: segmentSize)
        else { return false }
        return archived.number > lsn.value / segmentSize
    }
}
