import Foundation

/// One replication connection of the receiver: who the master is, the slot, where to start.
final class ReceiveSession {
    let db: PGConnection
    let config: SlaveConfig
    /// The conninfo without its password, for messages.
    let shownConninfo: String
    /// IDENTIFY_SYSTEM's answer.
    let systemIdentifier: String
    let serverTimeline: UInt32
    let serverFlush: LSN
    /// `wal_segment_size` of the master.
    let segmentSize: UInt64

    /// Connects (replication=true, application_name = the slot unless the conninfo names one),
    /// identifies the master and refuses another cluster than the local backups' and WAL's.
    init(config: SlaveConfig) throws {
        self.config = config
        guard let base = config.receive.conninfo else {
            throw ReceiveError.noConninfo(configFile: config.common.configFile)
        }
        shownConninfo = Conninfo.masked(base)
        db = try PGConnection(conninfo: Self.conninfo(base, slot: config.receive.slot))
        let ident = try db.replicationCommand("IDENTIFY_SYSTEM")
        guard let sysid = ident[0, "systemid"], let tli = ident.int(row: 0, column: "timeline"),
            let pos = ident[0, "xlogpos"].flatMap(LSN.init)
        else { throw ReceiveError.unexpected(command: "IDENTIFY_SYSTEM", detail: "\(ident.rows)") }
        systemIdentifier = sysid
        serverTimeline = UInt32(tli)
        serverFlush = pos
        let shown = try db.replicationCommand("SHOW wal_segment_size")
        guard let text = shown.rows.first?.first ?? nil, let size = ReceivePlan.segmentSize(text)
        else {
            throw ReceiveError.unexpected(command: "SHOW wal_segment_size", detail: "\(shown.rows)")
        }
        segmentSize = size
        if let local = LocalIdentity.find(config.common), local.id != sysid {
            throw ReceiveError.otherCluster(
                server: sysid, local: local.id, source: local.source, conninfo: shownConninfo)
        }
    }

    /// `conninfo` plus replication=true and, unless set, application_name = the slot name
    /// (what `synchronous_standby_names` must list). dbname=replication, as PostgreSQL's own
    /// WAL receiver and pg_receivewal send it: libpq matches `.pgpass` lines on the database,
    /// and without it looks for the user's name, so the `HOST:PORT:replication:USER:PASSWORD`
    /// line `--init-slave --add-password` wrote was never used ("no password supplied").
    static func conninfo(_ base: String, slot: String) -> String {
        var extra = ["replication": "true", "dbname": "replication"]
        if Conninfo.value("application_name", in: base) == nil { extra["application_name"] = slot }
        if Conninfo.value("connect_timeout", in: base) == nil { extra["connect_timeout"] = "10" }
        let pairs = extra.sorted { $0.key < $1.key }
        if Conninfo.isURI(base) {
            let query = pairs.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            return base + (base.contains("?") ? "&" : "?") + query
        }
        return ([base] + pairs.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }

    /// The application_name the master sees for this receiver.
    static func applicationName(_ config: SlaveConfig) -> String {
        config.receive.conninfo.flatMap { Conninfo.value("application_name", in: $0) }
            ?? config.receive.slot
    }

    /// Creates the physical slot (reserving WAL now) unless it exists.
    func ensureSlot(log: Log) throws {
        let slot = config.receive.slot
        guard ReplicationSlots.isValidName(slot) else {
            throw WalmgrFailure(
                "receive_slot = \(slot) in \(config.common.configFile) is not a valid slot name: "
                    + "use lowercase letters, digits and _ only")
        }
        do {
            _ = try db.replicationCommand("CREATE_REPLICATION_SLOT \(slot) PHYSICAL RESERVE_WAL")
            log.info("created the physical replication slot \(slot) on the master")
        } catch {
            guard case .queryFailed(_, "42710", _, _, _) = error else { throw error }
        }
    }

    /// The history file of `timeline`, stored in completed_wals; returns its entries.
    func fetchHistory(_ timeline: UInt32) throws -> [ReceivePlan.HistoryEntry] {
        let result = try db.replicationCommand("TIMELINE_HISTORY \(timeline)")
        guard let file = result[0, "filename"], let content = result[0, "content"] else {
            throw ReceiveError.unexpected(command: "TIMELINE_HISTORY", detail: "no file")
        }
        let name = try WALName.validate(file)
        let memory = try MemoryFile(Array(content.utf8))
        defer { close(memory.fd) }
        _ = try WALStore(directory: config.common.completedWals).store(
            name, from: memory.fd, size: content.utf8.count)
        return ReceivePlan.history(content)
    }

    /// Where to start and on which timeline: after the local WAL (or the master's current
    /// segment when there is none), on the master's timeline that holds that LSN.
    func startPoint() throws -> (lsn: LSN, timeline: UInt32) {
        let list = { (dir: String) in
            (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        }
        let start = ReceivePlan.start(
            completed: list(config.common.completedWals), partials: list(config.common.partialWals),
            segmentSize: segmentSize)
        let lsn = start?.lsn ?? serverFlush.segmentStart(segmentSize)
        guard serverTimeline > 1, start.map({ $0.segment.timeline != serverTimeline }) ?? false
        else {
            return (lsn, serverTimeline)
        }
        let history = try fetchHistory(serverTimeline)
        return (lsn, ReceivePlan.timeline(of: lsn, current: serverTimeline, history: history))
    }
}
