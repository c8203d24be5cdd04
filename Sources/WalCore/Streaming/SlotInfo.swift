import Foundation

/// One replication slot on a server (`pg_replication_slots`) and the WAL it holds back.
///
/// `status` (master) calls ``SlotInfo/query(_:)`` and ``SlotInfo/problems(_:maxRetainedMB:)``.
public struct SlotInfo: Sendable, Equatable {
    /// `slot_name`.
    public let name: String
    /// `physical` or `logical`.
    public let type: String
    /// True while a standby (walsender) uses it.
    public let active: Bool
    /// The walsender's pid while active.
    public let activePID: Int?
    /// `restart_lsn`: the oldest WAL the slot keeps; nil when it reserves none.
    public let restartLSN: String?
    /// Bytes between the current WAL position and `restart_lsn`.
    public let retainedBytes: Int64?
    /// `wal_status` (13+): reserved, extended, unreserved or lost.
    public let walStatus: String?
    /// `safe_wal_size` (13+): bytes that can still be written before the slot loses WAL.
    public let safeWALSize: Int64?

    /// Creates a slot record (for tests and fakes).
    public init(
        name: String, type: String = "physical", active: Bool, activePID: Int? = nil,
        restartLSN: String?, retainedBytes: Int64?, walStatus: String? = nil,
        safeWALSize: Int64? = nil
    ) {
        self.name = name
        self.type = type
        self.active = active
        self.activePID = activePID
        self.restartLSN = restartLSN
        self.retainedBytes = retainedBytes
        self.walStatus = walStatus
        self.safeWALSize = safeWALSize
    }

    /// Every slot on the server, by name. Works on a master and on a (cascading) standby.
    public static func query(_ db: PGConnection) throws -> [SlotInfo] {
        let modern = db.serverVersionNum >= 130000
        let sql = """
            SELECT slot_name::text, slot_type, active, active_pid, restart_lsn::text,
                   pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                        ELSE pg_current_wal_lsn() END, restart_lsn)::bigint
                     AS retained,
                   \(modern ? "wal_status, safe_wal_size" : "NULL::text AS wal_status, NULL::bigint AS safe_wal_size")
            FROM pg_replication_slots ORDER BY slot_name
            """
        let result = try db.query(sql)
        return (0..<result.count).map { row in
            SlotInfo(
                name: result[row, "slot_name"] ?? "", type: result[row, "slot_type"] ?? "",
                active: result.bool(row: row, column: "active") ?? false,
                activePID: result.int(row: row, column: "active_pid"),
                restartLSN: result[row, "restart_lsn"],
                retainedBytes: result[row, "retained"].flatMap { Int64($0) },
                walStatus: result[row, "wal_status"],
                safeWALSize: result[row, "safe_wal_size"].flatMap { Int64($0) })
        }
    }

    /// One line for status output: `walmgr_slave physical inactive retains 48.0 MB (reserved)`.
    public var summary: String {
        let state = active ? "active (pid \(activePID.map(String.init) ?? "?"))" : "inactive"
        let held = retainedBytes.map { "retains \(Self.megabytes($0))" } ?? "reserves no WAL"
        let status = walStatus.map { ", wal_status \($0)" } ?? ""
        return "\(name) \(type) \(state), \(held)\(status)"
    }

    /// Problems worth a non-zero status: a slot holding more than `maxRetainedMB` of WAL, or one
    /// that already lost WAL its standby needs.
    public static func problems(_ slots: [SlotInfo], maxRetainedMB: Int) -> [String] {
        var problems: [String] = []
        for slot in slots {
            if slot.walStatus == "lost" {
                problems.append(
                    "replication slot \(slot.name) lost WAL its standby needs (wal_status lost, "
                        + "max_slot_wal_keep_size reached): restore that standby from a new "
                        + "backup, or drop the slot: SELECT pg_drop_replication_slot('\(slot.name)')"
                )
            } else if let bytes = slot.retainedBytes, bytes > Int64(maxRetainedMB) * 1_048_576 {
                let who = slot.active ? "its standby is behind" : "no standby is using it"
                problems.append(
                    "replication slot \(slot.name) holds back \(megabytes(bytes)) of WAL "
                        + "(status_max_slot_retained_mb = \(maxRetainedMB)); \(who). Start or "
                        + "fix the standby, or drop the slot if the standby is gone: SELECT "
                        + "pg_drop_replication_slot('\(slot.name)'). max_slot_wal_keep_size "
                        + "caps what a slot may keep")
            }
        }
        return problems
    }

    /// Bytes as megabytes with one decimal.
    static func megabytes(_ bytes: Int64) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }
}
