import Foundation
import Testing

@testable import WalCore

/// ReceiveWriter and LocalIdentity on a scratch directory (no server): segment files, completion
/// into completed_wals, gaps, the identity of the local WAL; ReceiveState's status rendering.
@Suite struct ReceiveWriterTests {
    static let size: UInt64 = 1 << 20

    func withDirs(_ body: (CommonConfig) throws -> Void) throws {
        let dir = try TestEnv.scratchDir(prefix: "wmrw")
        defer { TestEnv.removeScratch(dir) }
        for sub in ["/logs.complete", "/logs.partial"] {
            try FileManager.default.createDirectory(
                atPath: dir + sub, withIntermediateDirectories: true)
        }
        try body(CommonConfig(configFile: "\(dir)/s.ini", jobName: "s", walmgrData: dir))
    }

    func writer(_ common: CommonConfig, start: LSN) -> ReceiveWriter {
        ReceiveWriter(
            config: common, segmentSize: Self.size, level: 0, threads: 0, start: start,
            timeline: 1, log: Log(quiet: true))
    }

    @Test func aMessageAcrossASegmentEndCompletesTheSegment() throws {
        try withDirs { common in
            let w = writer(common, start: LSN(0))
            let first = [UInt8](repeating: 7, count: Int(Self.size) - 10)
            try w.write(first[...], at: LSN(0))
            let partial = "\(common.partialWals)/000000010000000000000000.partial"
            #expect(
                try FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int
                    == Int(Self.size), "pre-allocated to the segment size")
            try w.write([UInt8](repeating: 9, count: 30)[...], at: LSN(Self.size - 10))
            let done = "\(common.completedWals)/000000010000000000000000"
            let bytes = try #require(FileManager.default.contents(atPath: done))
            #expect(bytes.count == Int(Self.size) && bytes.last == 9 && bytes.first == 7)
            #expect(!FileManager.default.fileExists(atPath: partial), "the .partial is gone")
            #expect(w.flushed == LSN(Self.size), "a stored segment counts as flushed")
            #expect(w.written == LSN(Self.size + 20))
            try w.flush()
            #expect(w.flushed == w.written)
            w.closeFile()
        }
    }

    @Test func aGapIsRefusedAndAResentRangeRewritten() throws {
        try withDirs { common in
            let w = writer(common, start: LSN(100))
            #expect(throws: ReceiveError.gap(expected: LSN(100), received: LSN(200))) {
                try w.write([1, 2, 3][...], at: LSN(200))
            }
            try w.write([1, 2, 3][...], at: LSN(100))
            try w.write([1, 2, 3, 4][...], at: LSN(101))
            #expect(w.written == LSN(105))
            w.closeFile()
        }
    }

    @Test func aDifferentArchivedCopyIsAConflictAndKept() throws {
        try withDirs { common in
            let done = "\(common.completedWals)/000000010000000000000000"
            let other = Data(repeating: 1, count: Int(Self.size))
            #expect(FileManager.default.createFile(atPath: done, contents: other))
            let w = writer(common, start: LSN(0))
            #expect(throws: DurableConflict.self) {
                try w.write([UInt8](repeating: 2, count: Int(Self.size))[...], at: LSN(0))
            }
            #expect(FileManager.default.contents(atPath: done) == other)
            w.closeFile()
        }
    }

    @Test func identityComesFromTheNewestSegment() throws {
        try withDirs { common in
            #expect(LocalIdentity.find(common) == nil)
            var header = [UInt8](repeating: 0, count: 64)
            for i in 0..<8 { header[24 + i] = UInt8(truncatingIfNeeded: 7_000_000_001 >> (8 * i)) }
            let path = "\(common.completedWals)/000000010000000000000003"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(header)))
            let found = try #require(LocalIdentity.find(common))
            #expect(found.id == "7000000001" && found.source == path)
        }
    }

    @Test func statusOfTheReceiver() {
        let state = ReceiveState(
            pid: 42, slot: "s", synchronous: true, timeline: 1, received: "0/3000000",
            flushed: "0/2000000", serverWalEnd: "0/3000000", lastMessageTime: 1,
            caughtUpTime: 1, state: "streaming")
        #expect(state.problem(running: true, configFile: "s.ini") == nil)
        let gone = state.problem(running: false, configFile: "s.ini") ?? ""
        #expect(gone.contains("pid 42") && gone.contains("synchronous commits wait"))
        var stopped = state
        stopped.state = "stopped"
        #expect(stopped.problem(running: false, configFile: "s.ini") == nil)
        guard case .object(let fields) = state.json(running: false) else {
            Issue.record("not an object")
            return
        }
        #expect(fields["running"] == .bool(false) && fields["state"] == .string("stopped"))
        #expect(fields["lag_bytes"] == .int(0x100_0000) && fields["pid"] == .null)
    }
}
