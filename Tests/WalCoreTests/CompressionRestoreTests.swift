import Foundation
import Testing

@testable import WalCore

/// xrestore of compressed files, and what xarchive sends over ssh when compressing.
@Suite struct CompressionRestoreTests {
    typealias Scratch = StandbyXRestoreTests.Scratch
    static let name = CompressionTests.name

    /// Stores the test segment compressed with `method` in the scratch's completed_wals.
    static func storeSegment(_ s: Scratch, _ method: CompressMethod) throws -> Data {
        let data = CompressionTests.segment()
        let src = "\(s.root)/src.seg"
        try data.write(to: URL(fileURLWithPath: src))
        let fd = open(src, O_RDONLY)
        defer { close(fd) }
        _ = try WALStore(directory: s.files.completedWals).store(
            WALName(name)!, from: fd, size: data.count, method: method, level: 1)
        return data
    }

    @Test(arguments: [CompressMethod.zstd, .lz4])
    func xrestoreDecompresses(method: CompressMethod) async throws {
        let s = try Scratch()
        defer { s.remove() }
        let data = try Self.storeSegment(s, method)
        #expect(try await XRestore.run(s.context([Self.name, s.target])) == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.target)) == data)
    }

    @Test(arguments: [CompressMethod.zstd, .lz4])
    func corruptOrTruncatedCompressedFileIsRefused(method: CompressMethod) async throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try Self.storeSegment(s, method)
        let path = "\(s.files.completedWals)/\(Self.name)\(method.suffix)"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let original = bytes
        for damage in 0..<2 {
            bytes = original
            if damage == 0 { bytes[bytes.count / 2] ^= 0x5A } else { bytes.removeLast(100) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = await #expect(throws: StandbyError.self) {
                try await XRestore.run(s.context([Self.name, s.target]))
            }
            #expect("\(error!)".contains("does not decompress"))
            #expect(!FileManager.default.fileExists(atPath: s.target))
            #expect(!FileManager.default.fileExists(atPath: Durable.tempPath(for: s.target)))
        }
    }

    @Test func decompressedSegmentStillGetsTheHeaderCheck() async throws {
        let s = try Scratch()
        defer { s.remove() }
        // A well-formed zstd file holding a segment for another name.
        let data = CompressionTests.segment()
        let src = "\(s.root)/src.seg"
        try data.write(to: URL(fileURLWithPath: src))
        let fd = open(src, O_RDONLY)
        defer { close(fd) }
        let other = "000000010000000000000007"
        _ = try WALStore(directory: s.files.completedWals).store(
            WALName(other)!, from: fd, size: data.count, method: .zstd, level: 1)
        let error = await #expect(throws: StandbyError.self) {
            try await XRestore.run(s.context([other, s.target]))
        }
        #expect("\(error!)".contains("does not belong to"))
    }

    /// Records commands and their stdin instead of running them; a descriptor's bytes are
    /// read at once (as the child would) and recorded as `.bytes`.
    final class RecordingRunner: ProcessRunning, @unchecked Sendable {
        // Only touched from the one test task that owns it.
        var calls: [(Command, ProcessInput)] = []
        func run(_ command: Command, input: ProcessInput, timeout: Duration?) async throws
            -> ProcessResult
        {
            guard case .fileDescriptor(let fd) = input else {
                calls.append((command, input))
                return ProcessResult(status: 0)
            }
            var bytes: [UInt8] = []
            _ = try WALCodec.readChunks(fd, path: "stdin") { bytes.append(contentsOf: $0) }
            calls.append((command, .bytes(bytes)))
            return ProcessResult(status: 0)
        }
    }

    @Test func xarchiveOverSSHSendsOnlyCompressedBytesWithSuffixedName() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let data = CompressionTests.segment()
        let src = "\(s.root)/pgdata/pg_wal/\(Self.name)"
        try data.write(to: URL(fileURLWithPath: src))
        let common = CommonConfig(
            configFile: "\(s.root)/wal-master.ini", jobName: "t", walmgrData: "/srv/w d",
            sshReuseConnection: false, slaveWalmgr: "/usr/bin/walmgr", compressMethod: .zstd)
        let config = MasterConfig(
            common: common, masterData: "\(s.root)/pgdata", slave: "standby",
            slaveConfig: "/etc/wal slave.ini")
        let runner = RecordingRunner()
        let context = CommandContext(
            config: .master(config), log: Log(quiet: true), runner: runner, notReally: false,
            arguments: [src, Self.name], flags: [],
            invocation: Invocation(
                configPath: common.configFile, command: "xarchive", arguments: [src, Self.name]))
        #expect(try await XArchive.run(context) == 0)
        let (command, input) = try #require(runner.calls.first)
        guard case .bytes(let sent) = input else { Issue.record("stdin is not bytes"); return }
        #expect(sent.count < data.count / 2)
        #expect(command.executable == "ssh")
        let remote = command.arguments.joined(separator: " ")
        #expect(remote.hasSuffix("xreceive \(Self.name).zst \(sent.count)"))
        #expect(remote.contains("'/etc/wal slave.ini'"))
        let packed = "\(s.root)/sent.zst"
        try Data(sent).write(to: URL(fileURLWithPath: packed))
        let fd = open(packed, O_RDONLY)
        defer { close(fd) }
        var out = Data()
        try WALCodec.decompress(.zstd, from: fd, sourcePath: packed) { out.append(contentsOf: $0) }
        #expect(out == data)
    }
}
