import Foundation

/// A standby's WAL receiver (`pg_stat_wal_receiver`) and how far replay is behind: what
/// `ps -ef | grep receiver` used to tell, from SQL. `status` (slave) calls
/// ``ReceiverStatus/query(_:)`` on the standby's own connection (`slave_db`).
public struct ReceiverStatus: Sendable, Equatable {
    /// False when the server is not in recovery (a master, or a promoted standby).
    public let inRecovery: Bool
    /// The receiver's state (`streaming`, `starting`, `catchup`, `waiting`…); nil when no WAL
    /// receiver runs.
    public let state: String?
    /// The master the receiver streams from.
    public let senderHost: String?
    /// Its port.
    public let senderPort: Int?
    /// The slot it streams through (`primary_slot_name`).
    public let slotName: String?
    /// `pg_last_wal_receive_lsn()`: the last WAL received by streaming and flushed.
    public let receivedLSN: String?
    /// `pg_last_wal_replay_lsn()`: the last WAL replayed.
    public let replayedLSN: String?
    /// Received but not yet replayed, in bytes.
    public let replayLagBytes: Int64?
    /// Seconds since the last replayed commit, 0 when replay has caught up with what arrived.
    public let replayLagSeconds: Double?
    /// Seconds since the receiver last heard from the master.
    public let lastMessageAgeSeconds: Double?

    /// Creates a status (for tests and fakes).
    public init(
        inRecovery: Bool, state: String?, senderHost: String? = nil, senderPort: Int? = nil,
        slotName: String? = nil, receivedLSN: String? = nil, replayedLSN: String? = nil,
        replayLagBytes: Int64? = nil, replayLagSeconds: Double? = nil,
        lastMessageAgeSeconds: Double? = nil
    ) {
        self.inRecovery = inRecovery
        self.state = state
        self.senderHost = senderHost
        self.senderPort = senderPort
        self.slotName = slotName
        self.receivedLSN = receivedLSN
        self.replayedLSN = replayedLSN
        self.replayLagBytes = replayLagBytes
        self.replayLagSeconds = replayLagSeconds
        self.lastMessageAgeSeconds = lastMessageAgeSeconds
    }

    static let sql = """
        SELECT pg_is_in_recovery() AS in_recovery, r.status, r.sender_host, r.sender_port,
               r.slot_name, pg_last_wal_receive_lsn()::text AS received,
               pg_last_wal_replay_lsn()::text AS replayed,
               pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
                 AS lag_bytes,
               CASE WHEN pg_last_wal_receive_lsn() IS NULL
                      OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
                    ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
               END AS lag_seconds,
               extract(epoch FROM now() - r.last_msg_receipt_time) AS msg_age
        FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver r ON true
        """

    /// Reads the receiver state from the standby.
    public static func query(_ db: PGConnection) throws -> ReceiverStatus {
        let r = try db.query(sql)
        return ReceiverStatus(
            inRecovery: r.bool(row: 0, column: "in_recovery") ?? false,
            state: r[0, "status"], senderHost: r[0, "sender_host"],
            senderPort: r.int(row: 0, column: "sender_port"), slotName: r[0, "slot_name"],
            receivedLSN: r[0, "received"], replayedLSN: r[0, "replayed"],
            replayLagBytes: r[0, "lag_bytes"].flatMap { Int64($0) },
            replayLagSeconds: r[0, "lag_seconds"].flatMap { Double($0) },
            lastMessageAgeSeconds: r[0, "msg_age"].flatMap { Double($0) })
    }

    /// Lines for status output.
    public var lines: [String] {
        guard inRecovery else { return ["not in recovery: no WAL receiver (not a standby)"] }
        guard let state else {
            return [
                "WAL receiver: not running (replaying from the archive only); "
                    + "replayed \(replayedLSN ?? "-")"
            ]
        }
        let sender = senderHost.map { "\($0):\(senderPort.map(String.init) ?? "?")" } ?? "?"
        let slot = slotName.map { ", slot \($0)" } ?? ""
        let lag = replayLagBytes.map { "\($0) bytes" } ?? "-"
        let seconds = replayLagSeconds.map { String(format: "%.1f s", $0) } ?? "-"
        return [
            "WAL receiver: \(state) from \(sender)\(slot)",
            "received \(receivedLSN ?? "-"), replayed \(replayedLSN ?? "-"), replay lag \(lag) "
                + "(\(seconds))",
        ]
    }

    /// Problems for status: a standby that should stream (primary_conninfo set) but does not.
    public func problems(expectStreaming: Bool) -> [String] {
        guard inRecovery, expectStreaming else { return [] }
        guard let state else {
            return [
                "no WAL receiver: the standby is not streaming. Check primary_conninfo, that the "
                    + "master's pg_hba.conf allows replication from this host (walmgr MASTER.ini "
                    + "setup prints the line), and the standby's log"
            ]
        }
        return state == "streaming" ? [] : ["WAL receiver is \(state), not streaming"]
    }
}
