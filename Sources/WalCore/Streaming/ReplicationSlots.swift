import Foundation

/// The physical slot a standby streams through (`use_replication_slot`): `restore` creates it on
/// the master, `cleanup` drops it.
public enum ReplicationSlots {
    /// True for a name PostgreSQL accepts: `[a-z0-9_]`, 1 to 63 characters.
    public static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.utf8.count)
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    /// The slot name of a config, checked; nil when `use_replication_slot` is off.
    static func configuredName(_ common: CommonConfig) throws -> String? {
        guard common.useReplicationSlot else { return nil }
        let name = common.replicationSlotName
        guard isValidName(name) else {
            throw WalmgrFailure(
                "replication_slot_name = \(name) in \(common.configFile) is not a valid slot "
                    + "name: use lowercase letters, digits and _ (at most 63), e.g. "
                    + "replication_slot_name = \(CommonConfig.slotName(fromJobName: name))")
        }
        return name
    }

    /// For `restore`: makes sure the slot exists on the master (through `master_db`) and returns
    /// its name for `primary_slot_name`; nil when slots are off.
    static func prepareForRestore(_ config: SlaveConfig, log: Log) throws -> String? {
        guard let name = try configuredName(config.common) else { return nil }
        if config.common.primaryConninfo?.isEmpty ?? true {
            log.warning(
                "use_replication_slot is on but primary_conninfo is not set in "
                    + "\(config.common.configFile): the standby does not stream, so no slot")
            return nil
        }
        let conninfo = try config.need(
            config.masterDb, key: "master_db", for: "restore with use_replication_slot")
        let db = try PGConnection(conninfo: conninfo)
        try ensure(name, db: db, log: log)
        return name
    }

    /// Creates the physical slot if it is missing; reserves WAL at once so nothing the standby
    /// needs is removed between now and its first connection.
    public static func ensure(_ name: String, db: PGConnection, log: Log) throws {
        if let slot = try SlotInfo.query(db).first(where: { $0.name == name }) {
            guard slot.type == "physical" else {
                throw WalmgrFailure(
                    "replication slot \(name) on the master is a \(slot.type) slot: pick another "
                        + "replication_slot_name, or drop it (SELECT pg_drop_replication_slot"
                        + "('\(name)')) if nothing uses it")
            }
            guard slot.walStatus == "lost", !slot.active else {
                log.info("replication slot \(name) exists on the master: \(slot.summary)")
                return
            }
            log.warning("replication slot \(name) lost WAL (wal_status lost); recreating it")
            try db.execute("SELECT pg_drop_replication_slot($1)", [name])
        }
        try db.execute("SELECT pg_create_physical_replication_slot($1, true)", [name])
        log.info("created physical replication slot \(name) on the master")
    }

    /// Drops the slot if it exists. A slot still in use is given a few seconds (a standby that
    /// was just stopped lets go of it); then the error says which pid holds it.
    /// - Returns: true when a slot was dropped.
    @discardableResult
    public static func drop(_ name: String, db: PGConnection, log: Log) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            guard let slot = try SlotInfo.query(db).first(where: { $0.name == name }) else {
                log.info("replication slot \(name) does not exist on the master")
                return false
            }
            if !slot.active {
                try db.execute("SELECT pg_drop_replication_slot($1)", [name])
                log.info("dropped replication slot \(name) on the master")
                return true
            }
            guard ContinuousClock.now < deadline else {
                throw WalmgrFailure(
                    "replication slot \(name) is in use by walsender pid "
                        + "\(slot.activePID.map(String.init) ?? "?") on the master: stop the "
                        + "standby streaming through it, then run cleanup again (or SELECT "
                        + "pg_drop_replication_slot('\(name)') on the master)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// For `cleanup`: drops the configured slot through `master_db`; nil when slots are off.
    static func dropForCleanup(_ config: SlaveConfig, log: Log) async throws -> Bool? {
        guard let name = try configuredName(config.common) else { return nil }
        let conninfo = try config.need(
            config.masterDb, key: "master_db", for: "cleanup with use_replication_slot")
        let db = try PGConnection(conninfo: conninfo)
        return try await drop(name, db: db, log: log)
    }
}
