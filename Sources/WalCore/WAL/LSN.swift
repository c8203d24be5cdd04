/// A WAL location (`16/B374D848`).
public struct LSN: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 64-bit byte position.
    public let value: UInt64

    /// Creates an LSN from its byte position.
    public init(_ value: UInt64) { self.value = value }

    /// Parses PostgreSQL's `X/Y` text form.
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let hi = UInt64(parts[0], radix: 16),
            let lo = UInt64(parts[1], radix: 16), hi <= 0xFFFF_FFFF, lo <= 0xFFFF_FFFF
        else { return nil }
        value = hi << 32 | lo
    }

    public static func < (a: LSN, b: LSN) -> Bool { a.value < b.value }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/"
            + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }
}

/// A WAL segment: a timeline and a segment number, for a given segment size.
public struct WALSegment: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The timeline.
    public let timeline: UInt32
    /// The segment number (LSN / segment size).
    public let number: UInt64
    /// The segment size in bytes (`wal_segment_size`).
    public let size: UInt64

    /// Creates a segment.
    public init(timeline: UInt32, number: UInt64, size: UInt64) {
        self.timeline = timeline
        self.number = number
        self.size = size
    }

    /// The smallest `wal_segment_size` PostgreSQL accepts (1 MiB).
    public static let minSize: UInt64 = 1 << 20
    /// The largest `wal_segment_size` PostgreSQL accepts (1 GiB).
    public static let maxSize: UInt64 = 1 << 30

    /// True for a size PostgreSQL can have: a power of two from 1 MiB to 1 GiB. Every other
    /// size is refused before any arithmetic, so none of it can divide by zero or overflow.
    public static func isValidSize(_ size: UInt64) -> Bool {
        size >= minSize && size <= maxSize && size & (size - 1) == 0
    }

    /// Segments per 4 GiB "log" (the middle 8 hex digits): `0x100000000 / size`; at least 1,
    /// so a size that slipped past ``isValidSize(_:)`` renders a wrong name instead of trapping.
    static func perLog(_ size: UInt64) -> UInt64 { max(1, 0x1_0000_0000 / max(size, 1)) }

    /// The segment that holds `lsn`; `size` must pass ``isValidSize(_:)``.
    public init(timeline: UInt32, lsn: LSN, size: UInt64) {
        // max: a zero size (a broken caller) must not trap inside restore_command.
        self.init(timeline: timeline, number: lsn.value / max(size, 1), size: size)
    }

    /// Parses a 24-hex-digit segment name (the first 24 characters of `name`).
    ///
    /// Nil for a size PostgreSQL cannot have and for a segment part at or above the per-log
    /// count (`…000000FF00000100` with 16 MiB segments): PostgreSQL never writes such a name.
    /// Every accepted segment's start (`number × size`) fits in 64 bits.
    public init?(name: String, size: UInt64) {
        let bytes = Array(name.utf8.prefix(24))
        guard bytes.count == 24, Self.isValidSize(size),
            let tli = UInt32(String(decoding: bytes[0..<8], as: UTF8.self), radix: 16),
            let log = UInt32(String(decoding: bytes[8..<16], as: UTF8.self), radix: 16),
            let seg = UInt32(String(decoding: bytes[16..<24], as: UTF8.self), radix: 16),
            UInt64(seg) < Self.perLog(size)
        else { return nil }
        self.init(timeline: tli, number: UInt64(log) * Self.perLog(size) + UInt64(seg), size: size)
    }

    /// The file name, `TTTTTTTTLLLLLLLLSSSSSSSS`.
    public var name: String {
        let perLog = Self.perLog(size)
        return Self.hex8(UInt64(timeline)) + Self.hex8(number / perLog) + Self.hex8(number % perLog)
    }

    /// The LSN of the segment's first byte; nil when it does not fit in 64 bits.
    public var start: LSN? {
        let (value, overflow) = number.multipliedReportingOverflow(by: size)
        return overflow ? nil : LSN(value)
    }

    /// The next segment on the same timeline; nil after the last one a 64-bit LSN can address.
    public var next: WALSegment? {
        let (following, overflow) = number.addingReportingOverflow(1)
        guard !overflow, WALSegment(timeline: timeline, number: following, size: size).start != nil
        else { return nil }
        return WALSegment(timeline: timeline, number: following, size: size)
    }

    /// Orders by number, then timeline (a higher timeline at the same number comes later).
    public static func < (a: WALSegment, b: WALSegment) -> Bool {
        (a.number, a.timeline) < (b.number, b.timeline)
    }

    public var description: String { name }

    static func hex8(_ v: UInt64) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}

extension LSN {
    /// `self + bytes`, or nil past the end of the 64-bit WAL space (a corrupt message).
    public func adding(_ bytes: UInt64) -> LSN? {
        let (sum, overflow) = value.addingReportingOverflow(bytes)
        return overflow ? nil : LSN(sum)
    }

    /// The first byte of the segment that holds this LSN.
    public func segmentStart(_ segmentSize: UInt64) -> LSN { LSN(value - value % segmentSize) }
}

extension WALSegment {
    /// The LSN just past the segment's last byte; nil for the last segment of the 64-bit WAL
    /// space (checked: `(number + 1) * size` would trap there).
    public var endLSN: LSN? { next?.start }
}
