import Foundation
import Testing

@testable import WalCore

/// xrestore without a server: what it hands out, what it refuses, and that it stays quiet.
@Suite struct StandbyXRestoreTests {
    static let segmentSize = 16 << 20

    /// A scratch walmgr_data with logs.complete and logs.partial, and a target dir.
    struct Scratch {
        let root: String
        var files: StandbyFiles { StandbyFiles(common) }
        var common: CommonConfig {
            CommonConfig(configFile: "\(root)/wal-slave.ini", jobName: "t", walmgrData: root)
        }
        var target: String { "\(root)/pgdata/pg_wal/RECOVERYXLOG" }

        init() throws {
            var template = Array("/tmp/wmx-XXXXXX".utf8CString)
            root = String(cString: mkdtemp(&template)!)
            for dir in ["logs.complete", "logs.partial", "pgdata/pg_wal"] {
                try FileManager.default.createDirectory(
                    atPath: "\(root)/\(dir)", withIntermediateDirectories: true)
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }

        func context(_ arguments: [String]) -> CommandContext {
            CommandContext(
                config: .slave(SlaveConfig(common: common, slaveData: "\(root)/pgdata")),
                log: Log(quiet: true), runner: SubprocessRunner(), notReally: false,
                arguments: arguments, flags: [],
                invocation: Invocation(
                    configPath: common.configFile, command: "xrestore",
                    arguments: arguments))
        }
    }

    /// A segment whose first page has a long header for `name` (zeros elsewhere).
    static func segment(_ name: String, size: Int = segmentSize, headerSize: Int = segmentSize)
        -> Data
    {
        var bytes = [UInt8](repeating: 0, count: size)
        let number = WALSegment(name: name, size: UInt64(headerSize))!.number
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(0xD116, at: 0, width: 2)
        put(UInt64(SegmentCheck.longHeaderFlag), at: 2, width: 2)
        put(1, at: 4, width: 4)
        put(number * UInt64(headerSize), at: 8, width: 8)
        put(UInt64(headerSize), at: 32, width: 4)
        return Data(bytes)
    }

    static let name = "000000010000000000000003"

    @Test func handsOutAWholeSegmentAtomically() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let data = Self.segment(Self.name)
        try data.write(to: URL(fileURLWithPath: "\(s.files.completedWals)/\(Self.name)"))
        let status = try await XRestore.run(s.context([Self.name, s.target]))
        #expect(status == 0)
        #expect(FileManager.default.contents(atPath: s.target) == data)
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: "\(s.root)/pgdata/pg_wal")
        #expect(leftovers == ["RECOVERYXLOG"])
    }

    @Test(arguments: [1 << 20, (16 << 20) - 8192, 8 << 20])
    func refusesATruncatedSegment(size: Int) async throws {
        let s = try Scratch()
        defer { s.remove() }
        let data = Self.segment(Self.name).prefix(size)
        try data.write(to: URL(fileURLWithPath: "\(s.files.completedWals)/\(Self.name)"))
        await #expect(throws: StandbyError.self) {
            try await XRestore.run(s.context([Self.name, s.target]))
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(s.root)/pgdata/pg_wal")
        #expect(left.isEmpty, "PostgreSQL must never see a short segment, found \(left)")
    }

    @Test func refusesASegmentUnderTheWrongName() async throws {
        let s = try Scratch()
        defer { s.remove() }
        try Self.segment("000000010000000000000004").write(
            to: URL(fileURLWithPath: "\(s.files.completedWals)/\(Self.name)"))
        await #expect(throws: StandbyError.self) {
            try await XRestore.run(s.context([Self.name, s.target]))
        }
    }

    @Test func acceptsOtherSegmentSizesFromTheHeader() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let name = "000000010000000000000009"
        let data = Self.segment(name, size: 1 << 20, headerSize: 1 << 20)
        try data.write(to: URL(fileURLWithPath: "\(s.files.completedWals)/\(name)"))
        #expect(try await XRestore.run(s.context([name, s.target])) == 0)
    }

    @Test func missingFilesExitOneAtOnce() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let start = ContinuousClock.now
        #expect(try await XRestore.run(s.context([Self.name, s.target])) == 1)
        #expect(try await XRestore.run(s.context(["00000002.history", s.target])) == 1)
        #expect(ContinuousClock.now - start < XRestore.pauseLimit, "no wait for a missing file")
        #expect(!FileManager.default.fileExists(atPath: s.target))
    }

    @Test func historyFilesNeedNoHeader() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let history = "1\t0/3000060\tno recovery target specified\n"
        try history.write(
            toFile: "\(s.files.completedWals)/00000002.history", atomically: true, encoding: .utf8)
        #expect(try await XRestore.run(s.context(["00000002.history", s.target])) == 0)
        #expect(try String(contentsOfFile: s.target, encoding: .utf8) == history)
    }

    @Test func partialSegmentsOnlyAfterBootAskedForThem() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let data = Self.segment(Self.name)
        try data.write(to: URL(fileURLWithPath: "\(s.files.partialWals)/\(Self.name)"))
        #expect(try await XRestore.run(s.context([Self.name, s.target])) == 1)
        try StandbyFiles.create(s.files.stopFile, note: "boot")
        #expect(try await XRestore.run(s.context([Self.name, s.target])) == 0)
        #expect(FileManager.default.contents(atPath: s.target) == data)
    }

    @Test func pauseHoldsFilesBackForABoundedTime() async throws {
        let s = try Scratch()
        defer { s.remove() }
        try StandbyFiles.create(s.files.pauseFile, note: "pause")
        #expect(await XRestore.waitWhilePaused(s.files, limit: .milliseconds(300)) == false)
        let waiter = Task { await XRestore.waitWhilePaused(s.files, limit: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(300))
        try StandbyFiles.remove(s.files.pauseFile)
        #expect(await waiter.value == true)
    }

    @Test(arguments: ["../../etc/passwd", "000000010000000000000003/../x", "a b", ""])
    func hostileNamesFailBeforeAnyIO(name: String) async {
        let invocation = Invocation(
            configPath: "/nonexistent/wal-slave.ini", command: "xrestore",
            arguments: [name, "pg_wal/RECOVERYXLOG"])
        #expect(await Walmgr.run(invocation) == 1)
    }
}
