import Foundation
import Testing

@testable import WalCore

/// Every x-command run by the built binary with extreme numbers and names exits 1…125, never
/// with a trap (132/133/134) or a kill (137 from the timeout): PostgreSQL treats a
/// restore_command exit above 125 as fatal. A decompression bomb is refused within its segment
/// size, under a file-size limit that kills a writer going past it.
@Suite(.serialized) struct FaultExtremeValuesTests {
    static let huge = "18446744073709551615"  // 2^64 - 1
    static let tooBig = "18446744073709551616"  // 2^64: does not parse
    static let last = "00000001FFFFFFFFFFFFFFFF"
    static let valid = "000000010000000000000003"

    /// Argument lists for the slave INI (`master:` prefix: the master INI).
    static let runs: [[String]] = [
        ["xrestore", last, "pg_wal/RECOVERYXLOG"],  // archived plain: used to trap (132)
        ["xrestore", "00000002FFFFFFFFFFFFFFFF", "pg_wal/RECOVERYXLOG"],  // archived .zst
        ["xrestore", "0000000100000000FFFFFFFF", "pg_wal/RECOVERYXLOG"],  // past the per-log count
        ["xrestore", "FFFFFFFFFFFFFFFFFFFFFFFF", "pg_wal/RECOVERYXLOG", huge],
        ["xrestore", "FFFFFFFFFFFFFFFFFFFFFFFF.partial", "pg_wal/RECOVERYXLOG"],
        ["xrestore", "FFFFFFFF.history", "pg_wal/RECOVERYXLOG"],
        ["xwalcheck", valid, valid, "0"], ["xwalcheck", valid, valid, "3"],
        ["xwalcheck", valid, valid, "1099511627776"], ["xwalcheck", valid, valid, huge],
        ["xwalcheck", valid, valid, tooBig], ["xwalcheck", valid, valid, "-16777216"],
        ["xwalcheck", "000000010000000000000000", last, "16777216"],
        ["xwalcheck", "000000010000000000000000", "00000001FFFFFFFF00000FFF", "1048576"],
        ["xwalcheck", last, "000000010000000000000000", "16777216"],
        ["xwalcheck", "FFFFFFFF0000000000000000", "FFFFFFFFFFFFFFFF000000FF", "16777216"],
        ["xwalcheck", valid, valid, "16777216", "-1"],
        ["xwalcheck", valid, valid, "16777216", "9223372036854775807"],
        ["xpartialsync", valid, "0", "4611686018427387904"],  // used to abort (134)
        ["xpartialsync", valid, "0", "4611686018427387904", "16777216"],
        ["xpartialsync", valid, "0", huge], ["xpartialsync", valid, "0", "-1"],
        ["xpartialsync", valid, "-1", "0"], ["xpartialsync", valid, huge, "1"],
        ["xpartialsync", valid, "9223372036854775808", "0", "16777216"],
        ["xpartialsync", valid, "0", "0", "0"], ["xpartialsync", valid, "0", "0", "3"],
        ["xpartialsync", valid, "0", "0", "1099511627776"],
        ["xpartialsync", last, "1073741823", "1", huge],
        ["xreceive", last, huge], ["xreceive", last, "-1"], ["xreceive", last, tooBig],
        ["xlock", huge], ["xlock", "-2147483649"], ["xlock", "2147483647", "h"],
        ["xrelease", huge], ["xrelease", "-1"], ["xrelease", "0"],
        ["xbackupfile", String(repeating: "x", count: 100_000)],
        ["xrotate"], ["xrotate", huge], ["xrotate", "-1"], ["xpurgewals"], ["xbackupprep"],
        ["xversion"], ["xspace"],
        ["master:xarchive", "SEGMENT", "FFFFFFFFFFFFFFFFFFFFFFFF"],
        ["master:xarchive", "SEGMENT", "0000000100000000FFFFFFFF"],
    ]

    @Test func everyXCommandWithExtremeValuesExitsAt125OrBelow() async throws {
        let scratch = try TestEnv.scratchDir(prefix: "wme")
        defer { TestEnv.removeScratch(scratch) }
        let walmgr = try TestEnv.walmgrBinary(in: scratch)
        let (master, slave, data) = try FaultHostileArgsTests().writeConfigs(scratch)
        let pgwal = "\(scratch)/standby/pg_wal"
        try FileManager.default.createDirectory(atPath: pgwal, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser("\(scratch)/standby", mode: 0o700)
        try TestEnv.chownToRunAsUser(pgwal, mode: 0o700)
        let segment = Self.segment(size: 1 << 20, address: .max - (1 << 20) + 1)
        try store(Data(segment), at: "\(data)/logs.complete/\(Self.last)")
        try store(Data(segment), at: "\(data)/logs.complete/0000000100000000FFFFFFFF")
        try store(Self.zstd(segment), at: "\(data)/logs.complete/00000002FFFFFFFFFFFFFFFF.zst")
        try store(Data(segment), at: "\(scratch)/segment")
        for run in Self.runs {
            let ini = run[0].hasPrefix("master:") ? master : slave
            let argv =
                [ini, String(run[0].split(separator: ":").last!)]
                + run.dropFirst().map { $0 == "SEGMENT" ? "\(scratch)/segment" : $0 }
            let result = try RawSpawn.run(
                ([walmgr] + argv).map { Array($0.utf8) }, cwd: "\(scratch)/standby", timeout: 30)
            let shown = argv.dropFirst().joined(separator: " ").prefix(120)
            #expect(result.status <= 125, "\(shown): status \(result.status) \(result.stderr)")
            let refused = ["xrestore", "xwalcheck", "xpartialsync", "xreceive", "master:xarchive"]
            if refused.contains(run[0]) {
                #expect(result.status != 0, "\(shown) succeeded")
            }
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: pgwal)
        #expect(left.isEmpty, "xrestore left \(left) in pg_wal")
        let partials = try FileManager.default.contentsOfDirectory(atPath: "\(data)/logs.partial")
        #expect(partials.isEmpty, "xpartialsync wrote \(partials)")
    }

    /// A 99 KB-style bomb: a valid 1 MiB segment header followed by 64 MiB of zeros (or zeros
    /// only). Under a 2 MiB file-size limit, a restore that wrote past the segment size would
    /// die of SIGXFSZ (153); a bounded one exits 1 and hands nothing to PostgreSQL.
    @Test(arguments: [true, false])
    func decompressionBombIsStoppedAtTheSegmentSize(withHeader: Bool) async throws {
        let scratch = try TestEnv.scratchDir(prefix: "wmb")
        defer { TestEnv.removeScratch(scratch) }
        let walmgr = try TestEnv.walmgrBinary(in: scratch)
        let (_, slave, data) = try FaultHostileArgsTests().writeConfigs(scratch)
        let pgwal = "\(scratch)/standby/pg_wal"
        try FileManager.default.createDirectory(atPath: pgwal, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser("\(scratch)/standby", mode: 0o700)
        try TestEnv.chownToRunAsUser(pgwal, mode: 0o700)
        let name = "00000001000000000000002A"
        let head = withHeader ? Self.segment(size: 1 << 20, address: 0x2A << 20, length: 40) : []
        let bomb = try Self.zstd(head, zeros: 64 << 20)
        #expect(bomb.count < 100_000, "the bomb is small: \(bomb.count) bytes")
        try store(bomb, at: "\(data)/logs.complete/\(name).zst")
        let argv = [
            "/usr/bin/prlimit", "--fsize=\(2 << 20)", walmgr, slave, "xrestore", name,
            "pg_wal/RECOVERYXLOG",
        ]
        let result = try RawSpawn.run(
            argv.map { Array($0.utf8) }, cwd: "\(scratch)/standby", timeout: 60)
        #expect(result.status == 1, "status \(result.status): \(result.stderr)")
        #expect(result.stderr.contains(name), "the refusal names the file: \(result.stderr)")
        // Refused by the bound, not by the file-size limit (EFBIG when SIGXFSZ is ignored).
        let reason =
            withHeader ? "decompresses to more than 1048576 bytes" : "does not start with a WAL"
        #expect(result.stderr.contains(reason), "\(result.stderr)")
        #expect(!result.stderr.contains("File too large"), "\(result.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: pgwal)
        #expect(left.isEmpty, "left in pg_wal: \(left)")
    }

    func store(_ bytes: Data, at path: String) throws {
        try bytes.write(to: URL(fileURLWithPath: path))
        try TestEnv.chownToRunAsUser(path, mode: 0o600)
    }

    /// `length` bytes (default `size`) of a segment whose long page header records `size` and
    /// `address`; zeros after the header.
    static func segment(size: UInt64, address: UInt64, length: Int? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length ?? Int(size))
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(UInt64(SegmentCheck.longHeaderFlag), at: 2, width: 2)
        put(1, at: 4, width: 4)
        put(address, at: 8, width: 8)
        put(size, at: 32, width: 4)
        return bytes
    }

    /// `head` then `zeros` zero bytes as one zstd frame.
    static func zstd(_ head: [UInt8], zeros: Int = 0) throws -> Data {
        let encoder = try ZstdCodec.Encoder(level: 1, threads: 0, pledgedSize: nil)
        var out = Data()
        let sink: ByteSink = { out.append(contentsOf: $0) }
        try head.withUnsafeBytes { try encoder.encode($0, sink: sink) }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<(zeros >> 20) {
            try chunk.withUnsafeBytes { try encoder.encode($0, sink: sink) }
        }
        try encoder.finish(sink: sink)
        return out
    }
}
