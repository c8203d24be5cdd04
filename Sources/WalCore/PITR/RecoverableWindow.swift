import Foundation

/// The times a backup can be recovered to: from its stop time to when the last segment of the
/// unbroken archived run after it was archived (the segment file's mtime, an upper bound on
/// the commits it holds: an approximation, documented in docs/walmgr.md). On the backup's own
/// timeline, as `restore` recovers by default (`recovery_target_timeline = current`).
public struct RecoverableWindow: Sendable, Equatable {
    /// The backup's stop time (ISO 8601), nil when unknown.
    public let from: String?
    /// When the last contiguous segment was archived, nil when the backup is not consistent
    /// (its own WAL is incomplete).
    public let to: String?
    /// The last contiguous segment.
    public let last: String?
    /// The first missing segment when a later one exists: a gap that cuts the window.
    public let gap: String?

    /// The window of one backup (pure: works on the index).
    public static func of(_ m: BackupManifest, archive: ArchiveIndex) -> RecoverableWindow? {
        guard m.status == "complete",
            let start = WALSegment(name: m.startWAL, size: archive.segmentSize)
        else { return nil }
        let path = TimelineHistory(timeline: start.timeline)
        let (last, missing) = archive.run(from: start.number, along: path)
        let stop =
            LSN(m.stopLSN).map { $0.value / archive.segmentSize }
            ?? WALSegment(name: m.stopWAL, size: archive.segmentSize)?.number ?? start.number
        let newest = archive.newest(along: path, from: start.number)
        let gap = newest.map { $0.number > missing.number } == true ? missing.name : nil
        guard let last, last.number >= stop else {
            return RecoverableWindow(
                from: m.stopTime.isEmpty ? nil : m.stopTime, to: nil, last: last?.name,
                gap: missing.name)
        }
        return RecoverableWindow(
            from: m.stopTime.isEmpty ? nil : m.stopTime,
            to: archive.archivedAt[last].map(BackupManifest.isoTime), last: last.name, gap: gap)
    }
}

/// A backup as `listbackups --json` prints it: the manifest's keys plus its recoverable
/// window (`recoverable_from`, `recoverable_to`, `recoverable_gap`; null when unknown).
struct ListedBackup: Codable, Sendable {
    var manifest: BackupManifest
    var window: RecoverableWindow?

    enum Keys: String, CodingKey {
        case from = "recoverable_from", to = "recoverable_to", gap = "recoverable_gap"
        case last = "recoverable_last_wal"
    }

    init(manifest: BackupManifest, window: RecoverableWindow?) {
        self.manifest = manifest
        self.window = window
    }

    init(from decoder: any Decoder) throws {
        manifest = try BackupManifest(from: decoder)
        let c = try decoder.container(keyedBy: Keys.self)
        let from = try c.decodeIfPresent(String.self, forKey: .from)
        let to = try c.decodeIfPresent(String.self, forKey: .to)
        let last = try c.decodeIfPresent(String.self, forKey: .last)
        let gap = try c.decodeIfPresent(String.self, forKey: .gap)
        window =
            from == nil && to == nil && gap == nil
            ? nil : RecoverableWindow(from: from, to: to, last: last, gap: gap)
    }

    func encode(to encoder: any Encoder) throws {
        try manifest.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(window?.from, forKey: .from)
        try c.encode(window?.to, forKey: .to)
        try c.encode(window?.last, forKey: .last)
        try c.encode(window?.gap, forKey: .gap)
    }
}
