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

    @Test func aWholeSegmentIsLinkedWithTheNoClobberRule() throws {
        try withDirs { common in
            let store = WALStore(directory: common.completedWals)
            let name = try WALName.validate("000000010000000000000005")
            let source = "\(common.partialWals)/a.partial"
            let same = "\(common.partialWals)/b.partial"
            let other = "\(common.partialWals)/c.partial"
            let fm = FileManager.default
            #expect(fm.createFile(atPath: source, contents: Data(repeating: 3, count: 4096)))
            #expect(fm.createFile(atPath: same, contents: Data(repeating: 3, count: 4096)))
            #expect(fm.createFile(atPath: other, contents: Data(repeating: 4, count: 4096)))
            #expect(try store.storeLinking(name, source: source) == .stored)
            var a = stat()
            var b = stat()
            #expect(stat(source, &a) == 0 && stat(store.path(name), &b) == 0)
            #expect(a.st_ino == b.st_ino, "a hard link, not a copy")
            #expect(try store.storeLinking(name, source: same) == .alreadyPresent)
            #expect(throws: DurableConflict.self) { try store.storeLinking(name, source: other) }
            #expect(fm.contents(atPath: store.path(name)) == Data(repeating: 3, count: 4096))
            let zst = try WALName.validate("000000010000000000000006")
            #expect(fm.createFile(atPath: store.path(zst, .zstd), contents: Data([1])))
            #expect(try store.storeLinking(zst, source: source) == nil, "compared by store()")
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

/// ReceiveStream against a fake master whose stream never pauses (a receiver catching up).
@Suite struct ReceiveStreamTests {
    /// Sends `count` contiguous 8 KiB XLogData messages, each after 1 ms, then ends the COPY;
    /// records the status updates it receives.
    final class Backlog: CopyChannel {
        var sent = 0
        let count: Int
        var updates: [[UInt8]] = []
        init(count: Int) { self.count = count }

        func readCopy(milliseconds: Int32) throws(PGError) -> PGConnection.CopyRead {
            guard sent < count else { return .ended }
            usleep(1000)
            let start = UInt64(sent) * 8192
            sent += 1
            let header =
                [UInt8(ascii: "w")] + ReceiveUnitTests.be64(start)
                + ReceiveUnitTests.be64(UInt64(count) * 8192) + ReceiveUnitTests.be64(0)
            return .data(header + [UInt8](repeating: 1, count: 8192))
        }

        func writeCopy(_ bytes: [UInt8]) throws(PGError) { updates.append(bytes) }
    }

    @Test(arguments: [false, true])
    func repliesFlowWhileTheStreamNeverPauses(synchronous: Bool) throws {
        try ReceiveWriterTests().withDirs { common in
            let writer = ReceiveWriter(
                config: common, segmentSize: ReceiveWriterTests.size, level: 0, threads: 0,
                start: LSN(0), timeline: 1, log: Log(quiet: true))
            defer { writer.closeFile() }
            let master = Backlog(count: 300)
            let settings = ReceiveSettings(
                slot: "s", synchronous: synchronous, statusInterval: 0.05)
            let stream = ReceiveStream(
                db: master, writer: writer, settings: settings,
                stop: StopSignal(log: Log(quiet: true), signals: []), log: Log(quiet: true)
            ) { _ in }
            let end = try stream.run()
            #expect(end == .serverEnded)
            // About 300 ms of stream: the first update at once, then one per 50 ms (or per
            // 100 ms of pending synchronous data), although no read ever timed out.
            #expect(master.updates.count >= 3, "\(master.updates.count) status updates")
            #expect(master.updates.allSatisfy { $0.first == UInt8(ascii: "r") })
            let flushes = master.updates.map { ReplicationMessage.readUInt64($0, 9) }
            #expect(flushes == flushes.sorted(), "flush positions only grow")
        }
    }

    /// Lets `Backlog` through and checks each status update against what the writer's
    /// `sync` hook has made durable at that moment.
    final class Audited: CopyChannel {
        let inner: Backlog
        var synced = LSN(0)
        var violations: [String] = []
        init(_ inner: Backlog) { self.inner = inner }

        func readCopy(milliseconds: Int32) throws(PGError) -> PGConnection.CopyRead {
            try inner.readCopy(milliseconds: milliseconds)
        }

        func writeCopy(_ bytes: [UInt8]) throws(PGError) {
            let flush = LSN(ReplicationMessage.readUInt64(bytes, 9))
            if flush > synced { violations.append("flush \(flush) but synced \(synced)") }
            try inner.writeCopy(bytes)
        }
    }

    @Test(arguments: [false, true])
    func noReplyAcknowledgesMoreThanWasSynced(synchronous: Bool) throws {
        try ReceiveWriterTests().withDirs { common in
            let master = Audited(Backlog(count: 300))
            var writer: ReceiveWriter?
            writer = ReceiveWriter(
                config: common, segmentSize: ReceiveWriterTests.size, level: 0, threads: 0,
                start: LSN(0), timeline: 1, log: Log(quiet: true), zeroFill: synchronous
            ) { fd in
                let written = writer?.written
                let result = fdatasync(fd)
                if result == 0, let written { master.synced = written }
                return result
            }
            defer { writer?.closeFile() }
            let stream = ReceiveStream(
                db: master, writer: writer!,
                settings: ReceiveSettings(
                    slot: "s", synchronous: synchronous, statusInterval: 0.05),
                stop: StopSignal(log: Log(quiet: true), signals: []), log: Log(quiet: true)
            ) { _ in }
            _ = try stream.run()
            #expect(master.violations.isEmpty, "\(master.violations.prefix(3))")
            #expect(master.inner.updates.count >= 3 && master.synced > LSN(2 << 20))
        }
    }

    @Test func synchronousModeZeroFillsNewSegments() throws {
        try ReceiveWriterTests().withDirs { common in
            let writer = ReceiveWriter(
                config: common, segmentSize: ReceiveWriterTests.size, level: 0, threads: 0,
                start: LSN(0), timeline: 1, log: Log(quiet: true), zeroFill: true)
            defer { writer.closeFile() }
            try writer.write([1, 2, 3][...], at: LSN(0))
            var st = stat()
            #expect(stat("\(common.partialWals)/000000010000000000000000.partial", &st) == 0)
            #expect(Int(st.st_blocks) * 512 >= Int(ReceiveWriterTests.size), "not sparse")
        }
    }
}
