import Foundation
import Testing

@testable import WalCore

/// The pure parts of sync: what a round sends, the position file, xpartialsync's range rule.
@Suite struct SyncUnitTests {
    static let size: UInt64 = 16 << 20

    func position(_ number: UInt64, _ offset: UInt64, timeline: UInt32 = 1) -> SyncPosition {
        SyncPosition(
            segment: WALSegment(timeline: timeline, number: number, size: Self.size),
            offset: offset)
    }

    func pieces(_ old: SyncPosition?, _ now: SyncPosition) -> [[UInt64]] {
        SyncSession.plan(from: old, to: now).map { [$0.segment.number, $0.from, $0.to] }
    }

    @Test func sameSegmentSendsOnlyNewBytes() {
        #expect(pieces(position(3, 100), position(3, 900)) == [[3, 100, 900]])
        #expect(pieces(position(3, 900), position(3, 900)).isEmpty)
        #expect(pieces(nil, position(3, 900)) == [[3, 0, 900]])
    }

    @Test func switchSendsTheTailFirst() {
        #expect(pieces(position(3, 100), position(4, 50)) == [[3, 100, Self.size], [4, 0, 50]])
        #expect(pieces(position(3, 100), position(4, 0)) == [[3, 100, Self.size]])
        // Low segment numbers must not underflow the catch-up bound.
        #expect(pieces(position(1, 0), position(3, 8)).count == 3)
        let far = pieces(position(1, 0), position(100, 8))
        #expect(far.count == 1 + Int(SyncSession.catchUpLimit) + 1)
        #expect(far[1][0] == 100 - SyncSession.catchUpLimit)
    }

    @Test func newTimelineOrOlderPositionStartsOver() {
        #expect(pieces(position(3, 100), position(3, 500, timeline: 2)) == [[3, 0, 500]])
        #expect(pieces(position(9, 100), position(3, 500)) == [[3, 0, 500]])
    }

    @Test func positionRoundTrips() throws {
        let dir = try TestEnv.scratchDir(prefix: "wsu")
        defer { TestEnv.removeScratch(dir) }
        try position(0x1_0000_0005, 4096).save(dataDir: dir)
        #expect(
            SyncPosition.load(dataDir: dir, segmentSize: Self.size) == position(0x1_0000_0005, 4096)
        )
        try "garbage 12\n".write(
            toFile: "\(dir)/.walshipping.sync", atomically: true, encoding: .utf8)
        #expect(SyncPosition.load(dataDir: dir, segmentSize: Self.size) == nil)
    }

    @Test func rangeRule() {
        #expect(throws: Never.self) {
            try PartialStore.checkRange(offset: Self.size - 3, count: 3, segmentSize: Self.size)
        }
        #expect(throws: WalmgrFailure.self) {
            try PartialStore.checkRange(offset: Self.size - 2, count: 3, segmentSize: Self.size)
        }
        #expect(throws: WalmgrFailure.self) {
            try PartialStore.checkRange(offset: 0, count: 1, segmentSize: 12345)
        }
    }
}
