import Foundation

/// The messages of a physical replication stream inside COPY BOTH (big-endian integers;
/// times in microseconds since 2000-01-01 UTC). Pure: bytes in, values out.
public enum ReplicationMessage: Sendable, Equatable {
    /// `'w'` XLogData: WAL bytes that belong at `start`.
    case xlogData(start: LSN, walEnd: LSN, sendTime: Int64, data: ArraySlice<UInt8>)
    /// `'k'` primary keepalive; `replyRequested` asks for a status update at once.
    case keepalive(walEnd: LSN, sendTime: Int64, replyRequested: Bool)

    /// Parses one CopyData message from the server.
    public static func parse(_ bytes: [UInt8]) throws(ReceiveError) -> ReplicationMessage {
        guard let kind = bytes.first else { throw .badMessage("an empty message") }
        switch kind {
        case UInt8(ascii: "w"):
            guard bytes.count >= 25 else {
                throw .badMessage("an XLogData message of \(bytes.count) bytes")
            }
            return .xlogData(
                start: LSN(readUInt64(bytes, 1)), walEnd: LSN(readUInt64(bytes, 9)),
                sendTime: Int64(bitPattern: readUInt64(bytes, 17)), data: bytes[25...])
        case UInt8(ascii: "k"):
            guard bytes.count >= 18 else {
                throw .badMessage("a keepalive of \(bytes.count) bytes")
            }
            return .keepalive(
                walEnd: LSN(readUInt64(bytes, 1)),
                sendTime: Int64(bitPattern: readUInt64(bytes, 9)), replyRequested: bytes[17] != 0)
        default:
            throw .badMessage("a message of unknown type 0x\(String(kind, radix: 16))")
        }
    }

    /// The `'r'` standby status update: write, flush and apply LSNs (apply is 0: a receiver
    /// replays nothing), the client's clock, and whether the server should answer at once.
    public static func statusUpdate(
        write: LSN, flush: LSN, now: Int64, replyRequested: Bool = false
    ) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "r")]
        for value in [write.value, flush.value, 0, UInt64(bitPattern: now)] {
            out += (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
        }
        out.append(replyRequested ? 1 : 0)
        return out
    }

    static func readUInt64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }
}

/// PostgreSQL's clock: microseconds since 2000-01-01 00:00:00 UTC.
public enum PGTime {
    /// Seconds from the Unix epoch to 2000-01-01.
    static let epochOffset: Int64 = 946_684_800

    /// `date` in PostgreSQL's microseconds.
    public static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) - epochOffset * 1_000_000
    }

    /// PostgreSQL's microseconds as a date.
    public static func date(_ micros: Int64) -> Date {
        Date(timeIntervalSince1970: Double(micros) / 1_000_000 + Double(epochOffset))
    }
}
