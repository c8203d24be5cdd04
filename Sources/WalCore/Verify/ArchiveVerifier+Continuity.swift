import Foundation

extension ArchiveVerifier {
    /// A missing segment, by name (without the directory).
    struct Gap: Equatable {
        let file: String
        let problem: String
    }

    /// Holes inside each timeline: segment numbers missing between a timeline's first and last
    /// archived segment (pure). One entry per hole, naming its first missing segment.
    static func gaps(names: [String], segmentSize: UInt64) -> [Gap] {
        var byTimeline: [UInt32: Set<UInt64>] = [:]
        for name in names {
            guard let wal = WALPurge.walName(stored: name), wal.kind == .segment,
                let segment = WALSegment(name: wal.name, size: segmentSize)
            else { continue }
            byTimeline[segment.timeline, default: []].insert(segment.number)
        }
        var gaps: [Gap] = []
        for (timeline, numbers) in byTimeline.sorted(by: { $0.key < $1.key }) {
            let sorted = numbers.sorted()
            for (a, b) in zip(sorted, sorted.dropFirst()) where b > a + 1 {
                let missing = WALSegment(timeline: timeline, number: a + 1, size: segmentSize)
                let next = WALSegment(timeline: timeline, number: b, size: segmentSize)
                gaps.append(
                    Gap(
                        file: missing.name,
                        problem: "missing: timeline \(timeline) expected it after "
                            + "\(WALSegment(timeline: timeline, number: a, size: segmentSize).name), "
                            + "found next \(next.name) (\(b - a - 1) segment(s) missing)"))
            }
        }
        return gaps
    }

    /// What stops replay from a backup's start WAL to the newest archived segment (pure).
    func runProblems(_ backup: BackupManifest, names: [String], segmentSize: UInt64) -> [Gap] {
        guard !backup.startWAL.isEmpty,
            let run = WALContinuity.scan(
                names: names, start: backup.startWAL,
                stop: backup.stopWAL.isEmpty ? backup.startWAL : backup.stopWAL,
                segmentSize: segmentSize)
        else { return [] }
        if !run.reachesStop {
            return [
                Gap(
                    file: run.missing,
                    problem: "missing: backup \(backup.name) needs WAL from \(backup.startWAL) "
                        + "to \(backup.stopWAL.isEmpty ? backup.startWAL : backup.stopWAL) to be "
                        + "consistent, found \(run.last.map { "up to \($0)" } ?? "none of it")")
            ]
        }
        if let later = run.laterExisting {
            return [
                Gap(
                    file: run.missing,
                    problem: "missing: replay from backup \(backup.name) stops here, expected "
                        + "contiguous WAL up to the newest segment, found the archive going on "
                        + "at \(later)")
            ]
        }
        return []
    }
}
