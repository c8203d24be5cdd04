import Foundation

/// Whether the archived WAL after a backup can be replayed without a gap, across timelines.
public struct WALContinuity: Sendable, Equatable {
    /// The first segment (the backup's start WAL).
    public let first: String
    /// The last segment of the unbroken run, or nil when even the first is missing.
    public let last: String?
    /// Segments in the unbroken run.
    public let count: Int
    /// The first segment missing after the run.
    public let missing: String
    /// A segment that exists after the gap (replay would stop before reaching it), if any.
    public let laterExisting: String?
    /// True when the run reaches the backup's stop WAL (the backup is consistent).
    public let reachesStop: Bool

    /// Walks `names` (completed_wals entries, compressed or not) from `start` segment by
    /// segment; at a missing segment it follows a higher timeline that has a history file and
    /// that segment (a promotion), as recovery with `recovery_target_timeline = latest` does.
    public static func scan(names: [String], start: String, stop: String, segmentSize: UInt64)
        -> WALContinuity?
    {
        guard let begin = WALSegment(name: start, size: segmentSize),
            let end = WALSegment(name: stop, size: segmentSize)
        else { return nil }
        var segments: [UInt32: Set<UInt64>] = [:]
        var histories: Set<UInt32> = []
        for stored in names {
            guard let wal = WALPurge.walName(stored: stored) else { continue }
            if wal.kind == .history { histories.insert(wal.timeline) }
            guard wal.kind == .segment, let seg = WALSegment(name: wal.name, size: segmentSize)
            else { continue }
            segments[seg.timeline, default: []].insert(seg.number)
        }
        var timeline = begin.timeline
        var number = begin.number
        var last: WALSegment?
        var count = 0
        while true {
            if segments[timeline]?.contains(number) == true {
                last = WALSegment(timeline: timeline, number: number, size: segmentSize)
                count += 1
                // Checked: the last segment a 64-bit LSN addresses ends the run, not the process.
                let (following, overflow) = number.addingReportingOverflow(1)
                if overflow { break }
                number = following
                continue
            }
            let switched = segments.keys.filter {
                $0 > timeline && histories.contains($0) && segments[$0]?.contains(number) == true
            }.min()
            guard let switched else { break }
            timeline = switched
        }
        let later = segments.filter { $0.key >= timeline }
            .flatMap { tli, numbers in
                numbers.filter { $0 > number }.map {
                    WALSegment(timeline: tli, number: $0, size: segmentSize)
                }
            }.min()
        return WALContinuity(
            first: begin.name, last: last?.name, count: count,
            missing: WALSegment(timeline: timeline, number: number, size: segmentSize).name,
            laterExisting: later?.name, reachesStop: last.map { $0.number >= end.number } ?? false)
    }

    /// The segment size of the files in `dir`: the size of any uncompressed segment
    /// that has a possible segment size, else 16 MiB.
    public static func segmentSize(in dir: String, names: [String]) -> UInt64 {
        knownSegmentSize(in: dir, names: names) ?? 16 << 20
    }

    /// The size of any uncompressed segment in `dir` that has a possible segment size, or nil.
    static func knownSegmentSize(in dir: String, names: [String]) -> UInt64? {
        for name in names where WALName(name)?.kind == .segment {
            var st = stat()
            // A truncated or stray file's size is no segment size: skip it.
            if stat("\(dir)/\(name)", &st) == 0, st.st_size > 0,
                WALSegment.isValidSize(UInt64(st.st_size))
            {
                return UInt64(st.st_size)
            }
        }
        return nil
    }
}
