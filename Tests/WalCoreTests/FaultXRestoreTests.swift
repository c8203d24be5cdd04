import Foundation
import Testing

@testable import WalCore

/// A truncated or corrupt segment in the archive is refused by the real `xrestore` binary, so
/// PostgreSQL never replays garbage; a whole one is delivered byte for byte.
@Suite struct FaultXRestoreTests {
    static let name = "00000001000000000000002A"
    static let size = 1 << 20

    /// A 1 MiB segment whose long page header matches its name (random bytes after it).
    static func segment() throws -> Data {
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 40..<size { bytes[i] = UInt8.random(in: 0...255) }
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(0xD10D, at: 0, width: 2)  // xlp_magic (any value; walmgr does not check it)
        put(UInt64(SegmentCheck.longHeaderFlag), at: 2, width: 2)
        put(1, at: 4, width: 4)  // timeline
        put(0x2A * UInt64(size), at: 8, width: 8)  // xlp_pageaddr: segment 0x2A
        put(UInt64(size), at: 32, width: 4)  // xlp_seg_size
        return Data(bytes)
    }

    @Test func truncatedAndCorruptSegmentsAreRefused() async throws {
        let scratch = try TestEnv.scratchDir(prefix: "wmx")
        defer { TestEnv.removeScratch(scratch) }
        let walmgr = try TestEnv.walmgrBinary(in: scratch)
        let archive = "\(scratch)/walshipping/logs.complete"
        let pgwal = "\(scratch)/pgdata/pg_wal"
        for dir in [archive, pgwal] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(dir, mode: 0o700)
        }
        let ini = "\(scratch)/wal-slave.ini"
        try "[walmgr]\nslave_data = \(scratch)/pgdata\nwalmgr_data = \(scratch)/walshipping\n"
            .write(toFile: ini, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(ini, mode: 0o644)
        let good = try Self.segment()
        var wrongAddress = good
        wrongAddress[9] ^= 0x01
        var noHeader = good
        noHeader.replaceSubrange(0..<40, with: [UInt8](repeating: 0, count: 40))
        let cases: [(String, Data)] = [
            ("truncated", good.prefix(Self.size / 2)), ("empty", Data()),
            ("one byte short", good.prefix(Self.size - 1)), ("wrong address", wrongAddress),
            ("no header", noHeader),
        ]
        let stored = "\(archive)/\(Self.name)"
        let target = "\(pgwal)/RECOVERYXLOG"
        let command = Command(
            walmgr, [ini, "xrestore", Self.name, "pg_wal/RECOVERYXLOG"],
            workingDirectory: "\(scratch)/pgdata", user: TestEnv.runAsUser)
        for (what, bytes) in cases {
            try bytes.write(to: URL(fileURLWithPath: stored))
            try TestEnv.chownToRunAsUser(stored, mode: 0o600)
            let result = try await TestEnv.runner.run(command)
            #expect(result.status == 1, "\(what): \(result.statusText)")
            #expect(!result.stderrTail.isEmpty, "\(what): the refusal must say why")
            #expect(!FileManager.default.fileExists(atPath: target), "\(what) was handed out")
            #expect(try Data(contentsOf: URL(fileURLWithPath: stored)) == bytes, "archive kept")
        }
        try good.write(to: URL(fileURLWithPath: stored))
        let delivered = try await TestEnv.runner.run(command)
        #expect(delivered.succeeded, "\(delivered.stderrTail)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == good)
        let temps = try FileManager.default.contentsOfDirectory(atPath: pgwal)
            .filter { $0.hasSuffix(".walmgr-tmp") }
        #expect(temps.isEmpty)
    }
}
