import Foundation

/// One sync round after another against one master: the database connection and the position
/// survive between rounds (syncdaemon), or a single round runs from the saved position (sync).
final class SyncSession {
    let config: MasterConfig
    let log: Log
    let target: PartialTarget
    private var db: PGConnection?
    private var position: SyncPosition?
    private var segmentSize: UInt64?
    /// File mode: the modification time of each file last sent whole, to skip unchanged ones.
    var fileModeSent: [String: Int] = [:]
    /// At most this many finished segments are sent after a gap (archiving covers older ones).
    static let catchUpLimit: UInt64 = 8

    init(config: MasterConfig, context: CommandContext) throws {
        self.config = config
        log = context.log
        target = try PartialTarget(config: config, context: context)
    }

    /// One round: record mode through the database, file mode when it cannot be reached.
    func round() async throws -> SyncReport {
        let started = ContinuousClock.now
        var report: SyncReport
        if !config.useXlogFunctions {
            report = try await fileRound()
        } else {
            do {
                report = try await recordRound()
            } catch let error as PGError {
                close()
                log.warning("sync: \(error); shipping whole files from pg_wal instead (file mode)")
                report = try await fileRound()
            }
        }
        report.milliseconds = (ContinuousClock.now - started).milliseconds
        return report
    }

    /// Closes the database connection.
    func close() {
        db?.close()
        db = nil
    }

    // MARK: - record mode

    private func connection() throws(PGError) -> PGConnection {
        if let db { return db }
        let made = try PGConnection(conninfo: config.masterDb ?? "")
        db = made
        return made
    }

    /// Asks the server where WAL writing is, then ships what the slave does not have yet.
    private func recordRound() async throws -> SyncReport {
        let db = try connection()
        let version = db.serverVersion
        let size = try segmentSize ?? Self.querySegmentSize(db)
        segmentSize = size
        let lsnFunction = version.currentLSNFunction
        let row = try db.query(
            "SELECT lsn::text AS lsn, \(version.walFileNameFunction)(lsn) AS name "
                + "FROM \(lsnFunction)() AS lsn")
        guard let lsn = row[0, "lsn"].flatMap(LSN.init), let name = row[0, "name"],
            let timeline = UInt32(name.prefix(8), radix: 16)
        else { throw WalmgrFailure("sync: \(lsnFunction)() returned no usable position") }
        // Computed from the LSN: pg_walfile_name_offset names the previous segment at a boundary.
        let current = WALSegment(timeline: timeline, lsn: lsn, size: size)
        let now = SyncPosition(segment: current, offset: lsn.value % size)
        if position == nil {
            position = SyncPosition.load(dataDir: config.masterData, segmentSize: size)
        }
        let pieces = Self.plan(from: position, to: now)
        var sent = 0
        let walDir = "\(config.masterData)/\(version.walDirName)"
        for piece in pieces {
            sent += try await ship(piece, walDir: walDir, size: size)
        }
        if position != now {
            try now.save(dataDir: config.masterData)
            position = now
        }
        return SyncReport(
            mode: .record, name: current.name, offset: now.offset, bytes: sent,
            pieces: pieces.count, milliseconds: 0)
    }

    /// A byte range of one segment to send.
    struct Piece: Equatable {
        var segment: WALSegment
        var from: UInt64
        var to: UInt64
    }

    /// The ranges that take the slave from `old` to `now`: the rest of the old segment when it
    /// switched (walmgr3 dropped it), finished segments in between (bounded), the new head.
    static func plan(from old: SyncPosition?, to now: SyncPosition) -> [Piece] {
        let size = now.segment.size
        guard let old, old.segment.timeline == now.segment.timeline,
            old.segment.number <= now.segment.number
        else {
            return now.offset > 0 ? [Piece(segment: now.segment, from: 0, to: now.offset)] : []
        }
        if old.segment == now.segment {
            return now.offset > old.offset
                ? [Piece(segment: now.segment, from: old.offset, to: now.offset)] : []
        }
        var pieces = [Piece(segment: old.segment, from: old.offset, to: size)]
        // old.number < now.number here (same timeline, different segment), so + 1 cannot overflow.
        let firstMiddle = max(
            old.segment.number + 1, now.segment.number - min(now.segment.number, Self.catchUpLimit))
        for number in Swift.stride(from: firstMiddle, to: now.segment.number, by: 1) {
            let segment = WALSegment(timeline: now.segment.timeline, number: number, size: size)
            pieces.append(Piece(segment: segment, from: 0, to: size))
        }
        if now.offset > 0 { pieces.append(Piece(segment: now.segment, from: 0, to: now.offset)) }
        return pieces.filter { $0.to > $0.from }
    }

    /// Reads a piece from pg_wal and sends it; a segment already recycled is skipped.
    private func ship(_ piece: Piece, walDir: String, size: UInt64) async throws -> Int {
        let path = "\(walDir)/\(piece.segment.name)"
        let bytes: [UInt8]
        do {
            bytes = try WALFileReader.read(path, from: piece.from, to: piece.to)
        } catch {
            log.info("sync: \(piece.segment.name) is no longer in \(walDir); archiving has it")
            return 0
        }
        try await target.send(
            piece.segment.name, offset: piece.from, bytes: bytes, segmentSize: size)
        return bytes.count
    }

    /// `wal_segment_size` in bytes (PostgreSQL 10 reports it in 8 kB pages).
    static func querySegmentSize(_ db: PGConnection) throws -> UInt64 {
        let row = try db.query(
            "SELECT setting, coalesce(unit, '') AS unit FROM pg_settings "
                + "WHERE name = 'wal_segment_size'")
        guard let setting = row[0, "setting"].flatMap(UInt64.init) else {
            throw WalmgrFailure("sync: could not read wal_segment_size from pg_settings")
        }
        let (bytes, overflow) =
            row[0, "unit"] == "8kB"
            ? setting.multipliedReportingOverflow(by: 8192) : (setting, false)
        guard !overflow, WALSegment.isValidSize(bytes) else {
            throw WalmgrFailure(
                "sync: pg_settings reports wal_segment_size \(setting)\(row[0, "unit"] ?? ""), "
                    + "not a power of two from 1 MiB to 1 GiB; nothing sent")
        }
        return bytes
    }
}
