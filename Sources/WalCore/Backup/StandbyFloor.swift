import Foundation

/// The oldest archived WAL the standby in `slave_data` still needs, which `xpurgewals` keeps.
///
/// A standby restored from the oldest kept backup replays from that backup's start, and after
/// a crash or restart it begins again at its last restart point. A backup that rotated the old
/// backup out used to purge that WAL too: the standby stopped at the first missing segment and
/// could not start again, and only a new restore helped.
enum StandbyFloor: Equatable, Sendable {
    /// slave_data holds no cluster in recovery (none yet, or promoted): nothing to keep for it.
    case none
    /// WAL from this file on is kept; `why` says for what, for the log.
    case wal(String, why: String)
    /// A standby whose restart point could not be read: all WAL is kept.
    case unknown(String)

    /// The floor for the cluster in `dataDir`; `archive` (a local completed_wals, or nil) helps
    /// tell the segment size when the standby's own pg_wal has no segment.
    static func find(dataDir: String, archive: String?) -> StandbyFloor {
        let state = StandbyState(dataDir: dataDir)
        guard !dataDir.isEmpty, state.has("PG_VERSION"), let signal = state.signal else {
            return .none
        }
        // Before the standby first starts, backup_label says where replay begins: pg_control
        // was copied during the backup and may name a later checkpoint.
        if state.has("backup_label") {
            let text = try? String(contentsOfFile: "\(dataDir)/backup_label", encoding: .utf8)
            guard let start = text.flatMap({ BackupLabel.parse($0).startWAL }),
                WALName(start)?.kind == .segment
            else { return .unknown("\(dataDir)/backup_label names no START WAL LOCATION") }
            return .wal(start, why: "the standby in \(dataDir) replays its backup from there")
        }
        guard let point = ControlFile.restartPoint(dataDir) else {
            return .unknown(
                "\(dataDir)/global/pg_control is unreadable or from an unknown PostgreSQL version")
        }
        let names = { (dir: String) in
            (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        }
        let dirs = ["\(dataDir)/pg_wal"] + (archive.map { [$0] } ?? [])
        // Unknown: the largest size names the earliest file, so more is kept, never less.
        let size =
            dirs.lazy.compactMap { WALContinuity.knownSegmentSize(in: $0, names: names($0)) }.first
            ?? WALSegment.maxSize
        let wal = WALSegment(timeline: point.timeline, lsn: point.redo, size: size).name
        return .wal(
            wal, why: "the standby in \(dataDir) (\(signal)) restarts from \(point.redo)")
    }

    /// Of `doomed`, what the standby does not need; logs what it keeps.
    func filter(_ doomed: [String], log: Log) -> [String] {
        guard case .wal(let wal, let why) = self else { return doomed }
        let allowed = WALPurge.removable(doomed, keepFrom: wal)
        if allowed.count < doomed.count {
            log.info(
                "kept \(doomed.count - allowed.count) archived WAL file(s) from \(wal) on: \(why)")
        }
        return allowed
    }
}
