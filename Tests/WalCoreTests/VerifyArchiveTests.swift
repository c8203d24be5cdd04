import Foundation
import Testing

@testable import WalCore

/// `verify`'s archive checks on synthetic 1 MiB segments: headers (plain and compressed), gaps.
@Suite struct VerifyArchiveTests {
    static let size: UInt64 = 1 << 20

    /// A segment whose long page header is right for `name` (PostgreSQL 15's magic).
    static func segment(_ name: String, magic: UInt16 = 0xD110, headerTimeline: UInt32? = nil)
        -> [UInt8]
    {
        let seg = WALSegment(name: name, size: size)!
        var bytes = [UInt8](repeating: 0, count: Int(size))
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(UInt64(magic), at: 0, width: 2)
        put(UInt64(SegmentCheck.longHeaderFlag), at: 2, width: 2)
        put(UInt64(headerTimeline ?? seg.timeline), at: 4, width: 4)
        put(seg.number * size, at: 8, width: 8)
        put(size, at: 32, width: 4)
        put(8192, at: 36, width: 4)
        return bytes
    }

    func archive(_ files: [String: [UInt8]]) throws -> String {
        let dir = NSTemporaryDirectory() + "walmgr-verify-wal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, bytes) in files {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        }
        return dir
    }

    static func zstd(_ bytes: [UInt8]) throws -> [UInt8] {
        let encoder = try WALCodec.encoder(.zstd, level: 3, size: bytes.count)!
        var out: [UInt8] = []
        try bytes.withUnsafeBytes { try encoder.encode($0) { out += $0 } }
        try encoder.finish { out += $0 }
        return out
    }

    let names = (1...4).map { String(format: "0000000100000000000000%02X", $0) }

    @Test func intactArchiveHasNoProblems() throws {
        var files = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.segment($0)) })
        files[names[3]] = nil
        files[names[3] + ".zst"] = try Self.zstd(Self.segment(names[3]))
        let dir = try archive(files)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = ArchiveVerifier(directory: dir, pgVersion: 150_004)
            .check(backups: [VerifyUnitTests.manifest()])
        #expect(result.segments == 4)
        #expect(result.problems == [])
    }

    /// Each damage is named with the expected and the found value, compressed or not.
    @Test func damagedHeadersAreNamed() throws {
        let files = [
            names[0]: Self.segment(names[0], magic: 0xD113),
            names[1]: Array(Self.segment(names[2])),  // another segment's content
            names[2] + ".zst": try Self.zstd(Self.segment(names[2], headerTimeline: 2)),
            names[3]: Array(Self.segment(names[3]).prefix(8192)),
        ]
        let dir = try archive(files)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let problems = ArchiveVerifier(directory: dir, pgVersion: 150_004).check(backups: [])
            .problems.map(\.description)
        #expect(
            problems == [
                "\(dir)/\(names[0]): page magic expected 0xD110 (PostgreSQL 15), found 0xD113",
                "\(dir)/\(names[1]): page address expected 0/200000, found 0/300000",
                "\(dir)/\(names[2]).zst: timeline expected 1 or a parent of it, found 2",
                "\(dir)/\(names[3]): size expected 1048576 bytes (the wal_segment_size in its "
                    + "header), found 8192",
            ])
    }

    @Test func gapsInsideATimelineAndAfterABackupAreNamed() throws {
        let present = [names[0], names[2], names[3]]
        let dir = try archive(
            Dictionary(uniqueKeysWithValues: present.map { ($0, Self.segment($0)) }))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let problems = ArchiveVerifier(directory: dir, pgVersion: 150_004)
            .check(backups: [VerifyUnitTests.manifest()]).problems
        #expect(problems.count == 1)
        #expect(problems.first?.file == "\(dir)/\(names[1])")
        #expect(problems.first?.problem.contains("found next \(names[2])") == true)

        var backup = VerifyUnitTests.manifest()
        backup.startWAL = "000000010000000000000006"
        backup.stopWAL = backup.startWAL
        let run = ArchiveVerifier(directory: dir, pgVersion: 0)
            .runProblems(backup, names: present, segmentSize: Self.size)
        #expect(run.first?.file == "000000010000000000000006")
        #expect(run.first?.problem.contains("found none of it") == true)
    }
}
