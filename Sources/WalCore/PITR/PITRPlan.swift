import Foundation

/// Which backup a point-in-time recovery starts from, and proof that the archive holds every
/// segment from that backup's start to the target, on the target timeline's path. Pure: it
/// works on the catalog's manifests and an ``ArchiveIndex``; it changes nothing.
public struct PITRPlan: Sendable {
    /// The backup to restore (its manifest).
    public let backup: BackupManifest
    /// The timeline path recovery follows.
    public let history: TimelineHistory
    /// `recovery_target_timeline` to write.
    public let timelineSetting: String
    /// The first and last segment recovery needs, and how many there are.
    public let first: WALSegment
    /// The last segment checked.
    public let last: WALSegment
    /// True when `last` is the newest archived segment, not the target's own segment.
    public let lastIsNewest: Bool

    /// Chooses the backup (the named one, else the newest that ends before the target) and
    /// checks the archive. Backups are newest first and complete.
    public static func make(
        target: RecoveryTarget, backups: [BackupManifest], named: String?, archive: ArchiveIndex
    ) throws(PITRError) -> PITRPlan {
        let backup = try choose(target: target, backups: backups, named: named)
        let size = archive.segmentSize
        // A parsed name's first byte always fits in 64 bits; checked all the same.
        guard let start = WALSegment(name: backup.startWAL, size: size), let firstByte = start.start
        else {
            throw .missingSegment(
                segment: backup.startWAL.isEmpty ? "(unknown)" : backup.startWAL, dir: archive.dir,
                from: backup.startWAL, to: target.summary, note: " (the backup names no start WAL)")
        }
        let (history, setting) = try path(
            target: target, backupTimeline: start.timeline,
            startLSN: LSN(backup.startLSN) ?? firstByte, archive: archive)
        let (end, lastIsNewest) = endSegment(
            target: target, backup: backup, start: start, history: history, archive: archive)
        let (last, missing) = archive.run(from: start.number, along: history, through: end)
        guard let last, last.number >= end else {
            let note =
                lastIsNewest
                ? " (the newest archived segment on timeline \(history.timeline)'s path: where a "
                    + "\(target.summary) lies in the WAL is unknown until replay, so all of it must "
                    + "be there)"
                : ""
            throw .missingSegment(
                segment: missing.name, dir: archive.dir, from: start.name,
                to: WALSegment(timeline: history.timeline, number: end, size: size).name, note: note
            )
        }
        if case .time(let time) = target.kind, let archived = archive.archivedAt[last],
            archived < time.date
        {
            throw .beyondArchive(
                target: target.summary, newest: last.name,
                archivedAt: BackupManifest.isoTime(archived))
        }
        return PITRPlan(
            backup: backup, history: history, timelineSetting: setting, first: start, last: last,
            lastIsNewest: lastIsNewest)
    }

    /// The last segment recovery needs: the target's own for an LSN, the backup's stop
    /// segment for immediate, else the newest archived one on the path (true in the result).
    static func endSegment(
        target: RecoveryTarget, backup: BackupManifest, start: WALSegment,
        history: TimelineHistory, archive: ArchiveIndex
    ) -> (UInt64, Bool) {
        let size = archive.segmentSize
        let stop =
            LSN(backup.stopLSN).map { $0.value / size }
            ?? WALSegment(name: backup.stopWAL, size: size)?.number ?? start.number
        switch target.kind {
        case .lsn(let lsn): return (max(stop, lsn.value / size), false)
        case .immediate: return (stop, false)
        case .time, .xid, .name:
            return (
                max(stop, archive.newest(along: history, from: start.number)?.number ?? stop), true
            )
        }
    }

    /// The named backup (refused if it ends after the target), else the newest ending before.
    static func choose(target: RecoveryTarget, backups: [BackupManifest], named: String?)
        throws(PITRError) -> BackupManifest
    {
        if let named {
            guard let backup = backups.first(where: { $0.name == named }) else {
                throw .noBackupBefore(target: target.summary, backups: backups.map(stopOf))
            }
            if endsBefore(backup, target) == false {
                throw .backupAfterTarget(
                    name: named,
                    stop: [backup.stopTime, backup.stopLSN].filter { !$0.isEmpty }
                        .joined(separator: ", "), target: target.summary)
            }
            return backup
        }
        // Without SET a backup whose stop point is unknown is skipped for a time or LSN target;
        // for an xid or restore point nothing can be told, so the newest is taken.
        let unordered: Bool
        switch target.kind {
        case .time, .lsn: unordered = false
        case .xid, .name, .immediate: unordered = true
        }
        guard let backup = backups.first(where: { endsBefore($0, target) ?? unordered }) else {
            throw .noBackupBefore(target: target.summary, backups: backups.map(stopOf))
        }
        return backup
    }

    static func stopOf(_ m: BackupManifest) -> PITRError.BackupStop {
        PITRError.BackupStop(name: m.name, stopTime: m.stopTime, stopLSN: m.stopLSN)
    }

    /// True when the backup is consistent before the target, false when after, nil when it
    /// cannot be told (an xid or restore point, or a backup without its stop point).
    static func endsBefore(_ backup: BackupManifest, _ target: RecoveryTarget) -> Bool? {
        switch target.kind {
        case .time(let time):
            // The stop time is recorded after pg_backup_stop, to the second.
            guard let stop = ISO8601DateFormatter().date(from: backup.stopTime) else { return nil }
            return stop.addingTimeInterval(1) <= time.date
        case .lsn(let lsn):
            guard let stop = LSN(backup.stopLSN) else { return nil }
            return stop <= lsn
        case .xid, .name, .immediate: return nil
        }
    }

    /// The timeline path to the target timeline, checked against the backup.
    static func path(
        target: RecoveryTarget, backupTimeline: UInt32, startLSN: LSN, archive: ArchiveIndex
    ) throws(PITRError) -> (TimelineHistory, String) {
        let setting = target.timeline ?? "current"
        let timeline: UInt32
        switch setting {
        case "current": timeline = backupTimeline
        case "latest": timeline = archive.latestTimeline(from: backupTimeline)
        default: timeline = UInt32(setting) ?? backupTimeline
        }
        guard timeline != backupTimeline else {
            return (TimelineHistory(timeline: timeline), setting)
        }
        guard let history = archive.history(of: timeline) else {
            throw .missingHistory(timeline: timeline, dir: archive.dir)
        }
        guard let step = history.step(backupTimeline), step.end.map({ $0 > startLSN }) ?? true
        else {
            throw .notAncestor(
                backupTimeline: backupTimeline, target: timeline,
                switchpoint: history.step(backupTimeline)?.end?.description)
        }
        return (history, setting)
    }
}
