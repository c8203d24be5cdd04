import Foundation

/// `xpurgewals`: removes archived WAL that no kept backup needs.
///
/// Timeline-aware: a file goes only when its segment number is below the oldest kept backup's
/// start segment *and* its timeline is not newer than that backup's (a newer timeline may hold a
/// branch someone still wants). `.history` files are never removed.
public enum WALPurge {
    /// Compression suffixes stored names may carry (`compress_method`).
    public static let compressionSuffixes = ArchivedWAL.suffixes.filter { !$0.isEmpty }

    /// The WAL name under a stored file name, without a compression suffix; nil for other files.
    public static func walName(stored: String) -> WALName? {
        ArchivedWAL(fileName: stored)?.name
    }

    /// The stored names that may go, given the oldest kept backup's start WAL (pure).
    public static func removable(_ stored: [String], keepFrom startWAL: String) -> [String] {
        guard let start = WALName(startWAL), let startSegment = start.segment else { return [] }
        let startPosition = startSegment.dropFirst(8)
        return stored.filter { name in
            guard let wal = walName(stored: name), wal.kind != .history,
                let segment = wal.segment
            else { return false }
            return wal.timeline <= start.timeline && segment.dropFirst(8) < startPosition
        }
    }

    /// Removes what the oldest complete backup does not need from a directory `completedWals`,
    /// and the temp files of archiving runs that were killed (archiving itself never scans the
    /// directory; see ``Durable/removeStaleTemps(in:prefix:)``).
    /// - Returns: the removed names.
    @discardableResult
    public static func purge(completedWals: String, catalog: BackupCatalog, log: Log) throws
        -> [String]
    {
        try purge(completedWals: completedWals, oldest: catalog.complete().last, log: log)
    }

    /// Removes from a directory `completedWals` what `oldest` (the oldest kept backup, from
    /// any repository) does not need, and nothing from `floor` (a start WAL the caller knows
    /// of) on, nor what the `standby` on this host needs.
    static func purge(
        completedWals: String, oldest: BackupCatalog.Entry?, floor: String? = nil,
        standby: [StandbyFloor] = [], log: Log
    ) throws -> [String] {
        let temps = Durable.removeStaleTemps(in: completedWals)
        if temps > 0 {
            log.info("removed \(temps) temp file(s) left in \(completedWals) by killed runs")
        }
        return try purge(
            oldest: oldest, floor: floor, standby: standby, archive: completedWals, log: log,
            list: { try FileManager.default.contentsOfDirectory(atPath: completedWals) },
            remove: { doomed in
                // In parallel: each unlink may wait for a discard of the segment's blocks.
                try TreeRemoval.unlinkAll(doomed.map { "\(completedWals)/\($0)" })
                if !doomed.isEmpty { try Durable.fsyncDirectory(completedWals) }
            })
    }

    /// The decision for either kind of archive: `oldest` is the oldest kept backup, `list`
    /// gives the stored names, `remove` deletes some of them. Nothing is listed without a
    /// backup that names its start WAL. With a `floor` (the master's oldest backup, when the
    /// slave's own full_backup may name other backups), a file goes only when both allow it;
    /// and only when the `standby` on this host does not need it.
    static func purge(
        oldest: BackupCatalog.Entry?, floor: String? = nil, standby: [StandbyFloor] = [],
        archive: String, log: Log, list: () throws -> [String], remove: ([String]) throws -> Void
    ) throws -> [String] {
        if let why = standby.lazy.compactMap(\.unknown).first {
            log.warning("archived WAL is kept: \(why), and a standby there may still need it")
            return []
        }
        guard let oldest else {
            // This host's full_backup holds none, but the master's oldest S3 backup still says
            // what a restore needs: without this the slave's archive grew until its disk filled.
            guard let floor, WALName(floor) != nil else {
                log.info("no complete backup; archived WAL is kept")
                return []
            }
            let doomed = StandbyFloor.filter(
                removable(try list(), keepFrom: floor), by: standby, log: log)
            try remove(doomed)
            log.info(
                "removed \(doomed.count) archived WAL file(s) from \(archive) older than \(floor), "
                    + "the start of the master's oldest kept backup (none in this host's full_backup)"
            )
            return doomed
        }
        guard WALName(oldest.manifest.startWAL) != nil else {
            log.warning(
                "the oldest backup \(oldest.path) does not name its start WAL; archived WAL is kept"
            )
            return []
        }
        var doomed = removable(try list(), keepFrom: oldest.manifest.startWAL)
        if let floor { doomed = removable(doomed, keepFrom: floor) }
        doomed = StandbyFloor.filter(doomed, by: standby, log: log)
        try remove(doomed)
        log.info(
            "removed \(doomed.count) archived WAL file(s) from \(archive) older than "
                + "\(oldest.manifest.startWAL), the start of the oldest kept backup "
                + "\(oldest.manifest.name)")
        return doomed
    }
}
