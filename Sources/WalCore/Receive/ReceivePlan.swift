/// The receiver's pure decisions: where to start, on which timeline, and how a run of WAL
/// bytes falls into segment files.
public enum ReceivePlan {
    /// Where streaming starts: the first byte of `segment` (always a segment start, as
    /// pg_receivewal does; a `.partial` is received again from its start).
    public struct Start: Sendable, Equatable {
        /// The segment the first byte belongs to (its timeline is the one to request).
        public let segment: WALSegment
        /// Its first byte.
        public let lsn: LSN

        /// Starts at `segment`'s first byte; nil when that is past the 64-bit WAL space
        /// (checked: an unchecked `number × size` would trap the receiver).
        public init?(segment: WALSegment) {
            guard let lsn = segment.start else { return nil }
            self.segment = segment
            self.lsn = lsn
        }
    }

    /// The end of the newest complete segment in `completed` (stored names, any suffix), or the
    /// start of the newest receiver `.partial` in `partials` when that is newer; nil when
    /// neither holds a segment (then the receiver starts at the master's current segment).
    public static func start(completed: [String], partials: [String], segmentSize: UInt64)
        -> Start?
    {
        let complete = completed.compactMap { ArchivedWAL(fileName: $0)?.name }
            .filter { $0.kind == .segment }
            .compactMap { WALSegment(name: $0.name, size: segmentSize) }.max()
        let partial = partials.filter { $0.hasSuffix(".partial") }
            .compactMap { WALName($0) }.filter { $0.kind == .partial }
            .compactMap { WALSegment(name: $0.name, size: segmentSize) }.max()
        switch (complete, partial) {
        case (nil, nil): return nil
        // `next` is nil only past the last segment of the LSN space (checked arithmetic).
        case (let c?, nil): return c.next.flatMap { Start(segment: $0) }
        case (nil, let p?): return Start(segment: p)
        case (let c?, let p?):
            return p.number > c.number ? Start(segment: p) : c.next.flatMap { Start(segment: $0) }
        }
    }

    /// One entry of a timeline history file: `timeline` ended at `switchPoint`.
    public struct HistoryEntry: Sendable, Equatable {
        /// The timeline that ended.
        public let timeline: UInt32
        /// The first LSN of the next timeline.
        public let switchPoint: LSN
    }

    /// Parses a `.history` file: `TLI<TAB>X/X<TAB>reason` lines; comments and blanks skipped.
    public static func history(_ text: String) -> [HistoryEntry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, !line.hasPrefix("#"), let tli = UInt32(fields[0]),
                let lsn = LSN(String(fields[1]))
            else { return nil }
            return HistoryEntry(timeline: tli, switchPoint: lsn)
        }
    }

    /// The timeline that holds `lsn` for a server on `current` with `history` (PostgreSQL's
    /// tliOfPointInHistory): the first ended timeline whose switch point is past `lsn`.
    public static func timeline(of lsn: LSN, current: UInt32, history: [HistoryEntry]) -> UInt32 {
        history.first { lsn < $0.switchPoint }?.timeline ?? current
    }

    /// A part of a received run that falls into one segment.
    public struct Piece: Sendable, Equatable {
        /// The segment number.
        public let segment: UInt64
        /// Where in the segment the bytes go.
        public let offset: UInt64
        /// Which bytes of the run (indices from 0).
        public let range: Range<Int>
        /// True when the piece ends exactly at the segment's end.
        public let completesSegment: Bool
    }

    /// Splits `count` bytes that start at `start` at segment boundaries (one XLogData message
    /// can cross one). Nil when the run would pass the end of the WAL space.
    public static func pieces(start: LSN, count: Int, segmentSize: UInt64) -> [Piece]? {
        guard start.adding(UInt64(count)) != nil else { return nil }
        var pieces: [Piece] = []
        var done = 0
        while done < count {
            let at = start.value + UInt64(done)
            let offset = at % segmentSize
            let room = Int(min(segmentSize - offset, UInt64(count - done)))
            pieces.append(
                Piece(
                    segment: at / segmentSize, offset: offset, range: done..<(done + room),
                    completesSegment: offset + UInt64(room) == segmentSize))
            done += room
        }
        return pieces
    }

    /// `wal_segment_size` from `SHOW wal_segment_size` (`16MB`, `1GB`, or bytes); nil when it is
    /// not a power of two from 1 MiB to 1 GiB.
    public static func segmentSize(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)]
        var size: UInt64?
        for (unit, factor) in units where text.hasSuffix(unit) {
            size = UInt64(text.dropLast(unit.count)).map { $0 * factor }
        }
        guard let bytes = size ?? UInt64(text), bytes >= 1 << 20, bytes <= 1 << 30,
            bytes & (bytes - 1) == 0
        else { return nil }
        return bytes
    }
}
