import Foundation

/// After `restore --target-*`: the target and where recovery stopped (LSN, time, paused or
/// promoted), from the running server or, once promoted, from its timeline history file.
extension SlaveStatus {
    /// The recovery_target_* settings of the data dir as `name: value`, empty without a target.
    static func targetSettings(_ state: StandbyState) -> [String: String] {
        let conf = state.settings
        var out: [String: String] = [:]
        for name in RecoverySettings.targetNames {
            if let value = conf.value(name), !value.isEmpty { out[name] = value }
        }
        return out
    }

    /// The `recovery_target` section; nil when the data dir has no target.
    func targetSection(_ state: StandbyState, db: PGConnection?, inRecovery: Bool?) -> JSONValue? {
        let settings = Self.targetSettings(state)
        guard
            let kind = settings.keys.filter({
                $0 != "recovery_target_action" && $0 != "recovery_target_inclusive"
            }).min()
        else { return nil }
        var fields: [String: JSONValue] = [
            "target": .string("\(kind) = \(settings[kind]!)"),
            "action": .string(settings["recovery_target_action"] ?? "pause"),
        ]
        guard let db, let inRecovery else {
            fields["state"] = .string("server not running")
            return .object(fields)
        }
        if inRecovery {
            fields.merge(recoveringFields(db)) { $1 }
        } else {
            fields.merge(promotedFields(db)) { $1 }
        }
        return .object(fields)
    }

    /// Paused at the target, or still replaying toward it.
    func recoveringFields(_ db: PGConnection) -> [String: JSONValue] {
        let pausedSQL =
            db.serverVersion.num >= 140000
            ? "SELECT pg_get_wal_replay_pause_state() = 'paused'"
            : "SELECT pg_is_wal_replay_paused()"
        let row = try? db.query(
            "SELECT (\(pausedSQL)) AS paused, pg_last_wal_replay_lsn()::text AS lsn, "
                + "to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
                + "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at")
        let paused = row?.bool(row: 0, column: "paused") == true
        let byWalmgr = StandbyFiles.exists(StandbyFiles(config.common).pauseFile)
        return [
            "state": .string(
                paused
                    ? (byWalmgr
                        ? "paused (walmgr pause)"
                        : "paused at the target: inspect, then "
                            + "walmgr SLAVE.ini boot to promote, or restore with another target")
                    : "recovering toward the target"),
            "stopped_lsn": paused ? .text(row?[0, "lsn"]) : .null,
            "last_replayed_commit_time": .text(row?[0, "at"]),
        ]
    }

    /// Promoted: the switch point and reason from the new timeline's history file.
    func promotedFields(_ db: PGConnection) -> [String: JSONValue] {
        let tli = (try? db.scalar("SELECT timeline_id FROM pg_control_checkpoint()"))
            .flatMap { $0 }.flatMap { UInt32($0) }
        var fields: [String: JSONValue] = ["state": .string("promoted"), "timeline": .number(tli)]
        guard let tli,
            let text = try? String(
                contentsOfFile: "\(config.slaveData)/pg_wal/\(TimelineHistory.fileName(tli))",
                encoding: .utf8),
            let history = TimelineHistory(timeline: tli, text: text),
            history.steps.count > 1
        else { return fields }
        let switched = history.steps[history.steps.count - 2]
        fields["stopped_lsn"] = .text(switched.end?.description)
        fields["stop_reason"] = .text(switched.reason)
        return fields
    }
}
