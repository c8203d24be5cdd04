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

    /// The floors on this host: the standby in `dataDir` (slave_data), and a backup that
    /// `restore` has copied or downloaded next to it (`.walmgr-restore`, `.walmgr-s3`) but not
    /// yet swapped in, which will replay from its backup_label's START WAL.
    static func onThisHost(dataDir: String, archive: String?) -> [StandbyFloor] {
        guard !dataDir.isEmpty else { return [] }
        let staged = ["\(dataDir).walmgr-restore", "\(dataDir).walmgr-s3"].map { dir in
            label(in: dir, why: "restore is putting the backup in \(dir) in place")
        }
        return [find(dataDir: dataDir, archive: archive)] + staged
    }

    /// ``onThisHost(dataDir:archive:)`` for a slave config: slave_data, and completed_wals
    /// when it is a directory.
    static func onThisHost(_ slave: SlaveConfig) -> [StandbyFloor] {
        let wals = slave.common.completedWals
        return onThisHost(dataDir: slave.slaveData, archive: S3Repository.isS3(wals) ? nil : wals)
    }

    /// One line of `xstandbyfloor`: `wal NAME WHY` or `unknown WHY`; nil for none.
    var line: String? {
        switch self {
        case .none: nil
        case .wal(let wal, let why): "wal \(wal) \(why)"
        case .unknown(let why): "unknown \(why)"
        }
    }

    /// The floors in `xstandbyfloor`'s output (pure). A line it cannot read is a floor it
    /// cannot read: all WAL is kept.
    static func parse(_ output: String) -> [StandbyFloor] {
        output.split(separator: "\n").map { line in
            let words = line.split(separator: " ", maxSplits: 2).map(String.init)
            if words.first == "wal", words.count == 3, WALName(words[1])?.kind == .segment {
                return .wal(words[1], why: words[2])
            }
            if words.first == "unknown" {
                return .unknown(words.dropFirst().joined(separator: " "))
            }
            return .unknown("the slave's xstandbyfloor printed \(String(line).debugDescription)")
        }
    }

    /// Whether `path` exists; nil when it cannot be told (EACCES: walmgr runs as another
    /// user than the data dir's owner, and must not take "cannot see" for "none").
    static func exists(_ path: String) -> Bool? {
        if access(path, F_OK) == 0 { return true }
        return errno == ENOENT || errno == ENOTDIR ? false : nil
    }

    /// `path` cannot be looked into (see ``exists(_:)``), for the warning.
    static func blind(_ path: String) -> StandbyFloor {
        .unknown("cannot look into \(path): \(String(cString: strerror(errno)))")
    }

    /// The floor for the cluster in `dataDir`; `archive` (a local completed_wals, or nil) helps
    /// tell the segment size when the standby's own pg_wal has no segment.
    static func find(dataDir: String, archive: String?) -> StandbyFloor {
        let state = StandbyState(dataDir: dataDir)
        for name in ["", "/PG_VERSION", "/standby.signal", "/recovery.signal"]
        where exists(dataDir + name) == nil {
            return blind(dataDir + name)
        }
        guard state.has("PG_VERSION"), let signal = state.signal else { return .none }
        // Before the standby first starts, backup_label says where replay begins: pg_control
        // was copied during the backup and may name a later checkpoint.
        if state.has("backup_label") {
            return label(
                in: dataDir, why: "the standby in \(dataDir) replays its backup from there")
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

    /// The START WAL of the backup_label in `dir`; none without one.
    static func label(in dir: String, why: String) -> StandbyFloor {
        let path = "\(dir)/backup_label"
        switch exists(path) {
        case false: return .none
        case nil: return blind(path)
        case true:
            let text = try? String(contentsOfFile: path, encoding: .utf8)
            guard let start = text.flatMap({ BackupLabel.parse($0).startWAL }),
                WALName(start)?.kind == .segment
            else { return .unknown("\(path) names no START WAL LOCATION") }
            return .wal(start, why: why)
        }
    }

    /// Why this floor could not be read, or nil.
    var unknown: String? { if case .unknown(let why) = self { why } else { nil } }

    /// Of `doomed`, what none of `floors` needs; logs what each keeps.
    static func filter(_ doomed: [String], by floors: [StandbyFloor], log: Log) -> [String] {
        floors.reduce(doomed) { doomed, floor in
            guard case .wal(let wal, let why) = floor else { return doomed }
            let allowed = WALPurge.removable(doomed, keepFrom: wal)
            if allowed.count < doomed.count {
                log.info(
                    "kept \(doomed.count - allowed.count) archived WAL file(s) from \(wal) on: "
                        + why)
            }
            return allowed
        }
    }
}
