import Foundation
import Testing

@testable import WalCore

/// Segment arithmetic on extreme names and sizes never traps, and decompressing restore output
/// is bounded by the segment header before it is written.
@Suite struct WALBoundsTests {
    static let mib: UInt64 = 1 << 20

    @Test(arguments: [0, 1, 3, 1 << 19, (1 << 20) + 1, 3 << 20, 1 << 31, 1 << 32, 1 << 40, .max])
    func impossibleSizesParseNothing(size: UInt64) {
        #expect(!WALSegment.isValidSize(size))
        #expect(WALSegment(name: "000000010000000000000001", size: size) == nil)
    }

    @Test func segmentPartAtOrAbovePerLogCountIsRefused() throws {
        // 16 MiB: 256 segments per log, so …FF is the last and …100 does not exist.
        #expect(WALSegment(name: "0000000100000000000000FF", size: 16 * Self.mib) != nil)
        #expect(WALSegment(name: "000000010000000000000100", size: 16 * Self.mib) == nil)
        #expect(WALSegment(name: "00000001FFFFFFFFFFFFFFFF", size: 16 * Self.mib) == nil)
        #expect(WALSegment(name: "000000010000000000000003", size: 1 << 30) != nil)
        #expect(WALSegment(name: "000000010000000000000004", size: 1 << 30) == nil)
        #expect(WALSegment(name: "000000010000000000000FFF", size: Self.mib) != nil)
    }

    @Test(arguments: [1 << 20, 16 << 20, 1 << 30] as [UInt64])
    func lastSegmentStartFitsAndHasNoNext(size: UInt64) throws {
        let perLog = 0x1_0000_0000 / size
        let lastSeg = WALSegment.hex8(perLog - 1)
        let last = try #require(WALSegment(name: "00000001FFFFFFFF" + lastSeg, size: size))
        #expect(last.start?.value == UInt64.max - size + 1)
        #expect(last.next == nil)
        let first = try #require(WALSegment(name: "000000010000000000000000", size: size))
        #expect(first.next?.number == 1)
        #expect(WALSegment(timeline: 1, number: .max, size: size).start == nil)
        #expect(WALSegment(timeline: 1, number: .max, size: size).next == nil)
    }

    @Test func nextCrossesIntoTheNextLog() throws {
        let seg = try #require(WALSegment(name: "0000000100000000000000FF", size: 16 * Self.mib))
        #expect(seg.next?.name == "000000010000000100000000")
    }

    @Test func headerForAnOutOfRangeNameIsAProblemNotATrap() throws {
        let name = try #require(WALName("00000001FFFFFFFFFFFFFFFF"))
        let header = SegmentCheck.Header(timeline: 1, pageAddress: 0, segmentSize: 16 * Self.mib)
        #expect(SegmentCheck.problem(header, name: name)?.contains("does not belong") == true)
    }

    /// A 1 MiB segment header for `00000001000000000000002A`.
    static func header(size: UInt64 = 1 << 20) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 40)
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(UInt64(SegmentCheck.longHeaderFlag), at: 2, width: 2)
        put(1, at: 4, width: 4)
        put(0x2A * size, at: 8, width: 8)
        put(size, at: 32, width: 4)
        return bytes
    }

    @Test func restoreBoundStopsAtTheHeadersSegmentSize() throws {
        let name = try #require(WALName("00000001000000000000002A"))
        var bound = RestoreBound(name: name)
        let page = Self.header() + [UInt8](repeating: 0, count: 8192 - 40)
        let zeros = [UInt8](repeating: 0, count: 128 << 10)
        #expect(page.withUnsafeBytes { bound.admit($0) } == nil)
        #expect(bound.limit == Self.mib)
        var admitted = UInt64(page.count)
        while zeros.withUnsafeBytes({ bound.admit($0) }) == nil { admitted += UInt64(zeros.count) }
        #expect(admitted <= Self.mib)
        #expect(bound.written == admitted)
    }

    @Test func restoreBoundRefusesABadHeaderBeforeAnyByte() throws {
        let name = try #require(WALName("00000001000000000000002A"))
        var bound = RestoreBound(name: name)
        let zeros = [UInt8](repeating: 0, count: 128 << 10)
        #expect(zeros.withUnsafeBytes { bound.admit($0) } != nil)
        #expect(bound.written == 0)
        var wrongName = RestoreBound(name: try #require(WALName("00000001FFFFFFFFFFFFFFFF")))
        let page = Self.header()
        #expect(page.withUnsafeBytes { wrongName.admit($0) }?.contains("does not belong") == true)
    }

    @Test func restoreBoundCapsNonSegmentsAtOneGiB() throws {
        var bound = RestoreBound(name: try #require(WALName("00000002.history")))
        #expect(bound.limit == WALSegment.maxSize)
        let text = Array("1\t0/3000000\tno recovery target specified\n".utf8)
        #expect(text.withUnsafeBytes { bound.admit($0) } == nil)
        #expect(bound.limit == WALSegment.maxSize)
    }

    @Test func comparingDecodedContentStopsAtTheLimit() throws {
        let dir = try TestEnv.scratchDir(prefix: "wmc")
        defer { TestEnv.removeScratch(dir) }
        let bomb = try FaultExtremeValuesTests.zstd([], zeros: 5 << 20)
        let paths = ["\(dir)/a.zst", "\(dir)/b.zst"]
        for path in paths { try bomb.write(to: URL(fileURLWithPath: path)) }
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        func readers(limit: Int) throws -> [DecodedReader] {
            try paths.map { path in
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                fds.append(fd)
                return try DecodedReader(fd: fd, method: .zstd, path: path, limit: limit)
            }
        }
        let whole = try readers(limit: DecodedReader.maxContent)
        #expect(try WALContent.identical(whole[0], whole[1]))
        let capped = try readers(limit: 4 << 20)
        let error = #expect(throws: CompressionError.self) {
            try WALContent.identical(capped[0], capped[1])
        }
        #expect(error?.description.contains("decodes to more than 4194304 bytes") == true)
    }
}
