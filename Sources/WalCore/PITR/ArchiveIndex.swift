import Foundation

/// What completed_wals holds, read once: segments per timeline, when each was archived, and the
/// text of the history files. The PITR plan and the recoverable window work on this value.
public struct ArchiveIndex: Sendable {
    /// The directory (for messages).
    public let dir: String
    /// The segment size.
    public let segmentSize: UInt64
    /// Segment numbers per timeline.
    public let segments: [UInt32: Set<UInt64>]
    /// When each segment was archived (its file's mtime), by segment.
    public let archivedAt: [WALSegment: Date]
    /// The text of each timeline's history file.
    public let histories: [UInt32: String]

    /// An index from values (for tests).
    public init(
        dir: String, segmentSize: UInt64, segments: [WALSegment: Date],
        histories: [UInt32: String]
    ) {
        self.dir = dir
        self.segmentSize = segmentSize
        self.archivedAt = segments
        self.histories = histories
        var byTimeline: [UInt32: Set<UInt64>] = [:]
        for segment in segments.keys {
            byTimeline[segment.timeline, default: []].insert(segment.number)
        }
        self.segments = byTimeline
    }

    /// Reads completed_wals: names, mtimes, history files (compressed ones decompressed).
    public static func read(_ dir: String) throws -> ArchiveIndex {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw FileError("list", dir)
        }
        let size = WALContinuity.segmentSize(in: dir, names: names)
        var segments: [WALSegment: Date] = [:]
        var histories: [UInt32: String] = [:]
        for name in names {
            guard let stored = ArchivedWAL(fileName: name) else { continue }
            let path = "\(dir)/\(name)"
            if stored.name.kind == .history {
                histories[stored.name.timeline] = try? readText(path, method: stored.method)
                continue
            }
            guard stored.name.kind == .segment,
                let segment = WALSegment(name: stored.name.name, size: size)
            else { continue }
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            let mtime = Date(
                timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
            segments[segment] = max(segments[segment] ?? mtime, mtime)
        }
        return ArchiveIndex(dir: dir, segmentSize: size, segments: segments, histories: histories)
    }

    /// A small stored file's content, decompressed.
    static func readText(_ path: String, method: CompressMethod) throws -> String {
        let fd = try ArchivedFile(path: path, method: method).open()
        defer { close(fd) }
        return try readText(fd: fd, method: method, path: path)
    }

    /// The content of a small stored file open at `fd`, decompressed (up to 16 MiB).
    static func readText(fd: Int32, method: CompressMethod, path: String) throws -> String {
        let reader = try DecodedReader(fd: fd, method: method, path: path)
        var bytes: [UInt8] = []
        while true {
            let chunk = try reader.next(64 << 10)
            if chunk.isEmpty || bytes.count > 16 << 20 { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when the segment is archived.
    public func has(_ timeline: UInt32, _ number: UInt64) -> Bool {
        segments[timeline]?.contains(number) == true
    }

    /// The history of `timeline`; nil when its history file is missing or malformed (timeline
    /// 1 needs none).
    public func history(of timeline: UInt32) -> TimelineHistory? {
        guard timeline > 1 || histories[timeline] != nil else {
            return TimelineHistory(timeline: timeline)
        }
        return histories[timeline].flatMap { TimelineHistory(timeline: timeline, text: $0) }
    }

    /// `latest` as recovery resolves it: from `timeline` up, while the next history file exists.
    public func latestTimeline(from timeline: UInt32) -> UInt32 {
        var tli = timeline
        while histories[tli + 1] != nil { tli += 1 }
        return tli
    }

    /// The run of archived segments from `start` along `path`: the last segment of the unbroken
    /// run, and the first missing one after it.
    public func run(from start: UInt64, along path: TimelineHistory, through end: UInt64? = nil)
        -> (last: WALSegment?, missing: WALSegment)
    {
        var number = start
        var last: WALSegment?
        while end.map({ number <= $0 }) ?? true {
            let candidates = path.timelines(forSegment: number, size: segmentSize)
            guard let tli = candidates.first(where: { has($0, number) }) else {
                let expected = candidates.first ?? path.timeline
                return (last, WALSegment(timeline: expected, number: number, size: segmentSize))
            }
            last = WALSegment(timeline: tli, number: number, size: segmentSize)
            number += 1
        }
        return (last, WALSegment(timeline: path.timeline, number: number, size: segmentSize))
    }

    /// The newest archived segment on `path` (at or after `start`), if any.
    public func newest(along path: TimelineHistory, from start: UInt64) -> WALSegment? {
        path.steps.compactMap { step -> WALSegment? in
            let lastAllowed = step.end.map { $0.value / segmentSize } ?? .max
            guard
                let max = segments[step.timeline]?.filter({ $0 >= start && $0 <= lastAllowed })
                    .max()
            else { return nil }
            return WALSegment(timeline: step.timeline, number: max, size: segmentSize)
        }.max()
    }
}
