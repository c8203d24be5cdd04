/// A file name PostgreSQL hands to archive_command / restore_command, validated before any I/O.
public struct WALName: Sendable, Hashable, CustomStringConvertible {
    /// What kind of WAL file the name denotes.
    public enum Kind: Sendable, Equatable {
        /// A 24-hex-digit segment.
        case segment
        /// `SEGMENT.partial`: the last, incomplete segment of an old timeline.
        case partial
        /// `SEGMENT.XXXXXXXX.backup`: a backup history file.
        case backup
        /// `TTTTTTTT.history`: a timeline history file.
        case history
    }

    /// The validated name.
    public let name: String
    /// Its kind.
    public let kind: Kind

    /// Validates a name; nil for anything that is not a WAL file name.
    public init?(_ name: String) {
        let bytes = Array(name.utf8)
        func hex(_ range: Range<Int>) -> Bool {
            range.upperBound <= bytes.count
                && bytes[range].allSatisfy { (48...57).contains($0) || (65...70).contains($0) }
        }
        switch bytes.count {
        case 24 where hex(0..<24): kind = .segment
        case 32 where hex(0..<24) && name.hasSuffix(".partial"): kind = .partial
        case 40 where hex(0..<24) && bytes[24] == 46 && hex(25..<33) && name.hasSuffix(".backup"):
            kind = .backup
        case 16 where hex(0..<8) && name.hasSuffix(".history"): kind = .history
        default: return nil
        }
        self.name = name
    }

    /// Validates a name or throws an error that names it.
    public static func validate(_ name: String) throws(WALNameError) -> WALName {
        guard let wal = WALName(name) else { throw WALNameError(name: name) }
        return wal
    }

    /// The timeline, from the first 8 hex digits.
    public var timeline: UInt32 { UInt32(name.prefix(8), radix: 16) ?? 0 }

    /// The segment part (24 hex digits) for segment, partial and backup names.
    public var segment: String? { kind == .history ? nil : String(name.prefix(24)) }

    public var description: String { name }
}

/// A name that is not a WAL file name.
public struct WALNameError: WalmgrError {
    /// The refused name.
    public let name: String

    public var description: String {
        let shown = name.unicodeScalars.map {
            $0.isASCII && $0.value >= 32 && $0.value < 127 ? String($0) : "?"
        }
        .joined().prefix(80)
        return
            "refusing WAL file name \"\(shown)\": expected 24 hex digits (uppercase), optionally "
            + "followed by .partial or .XXXXXXXX.backup, or 8 hex digits + .history; nothing was read "
            + "or written"
    }
}
