import Foundation

/// Checks that an archived WAL segment is whole before PostgreSQL sees it.
///
/// The rule: a segment's first page carries a long page header that records the cluster's
/// `wal_segment_size` (`xlp_seg_size`) and the segment's own start address (`xlp_pageaddr`).
/// A file is handed to PostgreSQL only when its size equals that recorded size, the size is a
/// power of two between 1 MiB and 1 GiB, and the address matches the file name. This costs one
/// 40-byte read, needs no database connection or pg_controldata run, and works for every
/// `--wal-segsize`. A truncated copy (seed 001's PANIC "has wrong size") is refused.
public enum SegmentCheck {
    /// `XLP_LONG_HEADER` in `xlp_info`: set on the first page of every segment.
    static let longHeaderFlag: UInt16 = 0x0002

    /// What a segment's long page header says about it.
    public struct Header: Sendable, Equatable {
        /// `xlp_tli`.
        public let timeline: UInt32
        /// `xlp_pageaddr`: the LSN of the segment's first byte.
        public let pageAddress: UInt64
        /// `xlp_seg_size`.
        public let segmentSize: UInt64
    }

    /// Parses the first 40 bytes of a segment (little-endian, as PostgreSQL writes on x86/ARM).
    public static func header(_ bytes: [UInt8]) -> Header? {
        guard bytes.count >= 40 else { return nil }
        func int(_ offset: Int, _ width: Int) -> UInt64 { littleEndian(bytes, at: offset, width) }
        guard UInt16(int(2, 2)) & longHeaderFlag != 0 else { return nil }
        return Header(
            timeline: UInt32(int(4, 4)), pageAddress: int(8, 8), segmentSize: int(32, 4))
    }

    /// The `width`-byte little-endian integer at `offset` of a WAL page header.
    static func littleEndian(_ bytes: [UInt8], at offset: Int, _ width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    /// Why `fd` (named `name`, `size` bytes) is not a whole segment, or nil when it is.
    public static func problem(fd: Int32, name: WALName, size: Int) -> String? {
        var bytes = [UInt8](repeating: 0, count: 40)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 40, 0) }
        guard n == 40, let header = header(bytes) else {
            return "it does not start with a WAL segment header (\(size) bytes)"
        }
        if let reason = problem(header, name: name) { return reason }
        guard UInt64(size) == header.segmentSize else {
            return "it is \(size) bytes but its header says wal_segment_size is "
                + "\(header.segmentSize)"
        }
        return nil
    }

    /// Why a segment's long page header does not fit `name` (impossible size, an address that
    /// is not the name's), or nil. Needs only the first 40 bytes, so a decompressing restore
    /// asks before it writes anything.
    public static func problem(_ header: Header, name: WALName) -> String? {
        let segSize = header.segmentSize
        guard WALSegment.isValidSize(segSize) else {
            return "its header records an impossible segment size \(segSize)"
        }
        guard let segment = WALSegment(name: name.name, size: segSize),
            segment.start?.value == header.pageAddress
        else {
            return "its header's address \(LSN(header.pageAddress)) does not belong to \(name)"
        }
        return nil
    }
}
