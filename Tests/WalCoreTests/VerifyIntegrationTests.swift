import Foundation
import Testing

@testable import WalCore

/// `verify` and the stock `pg_verifybackup` against real backups of PostgreSQL 15 and 18.
@Suite(.serialized)
struct VerifyIntegrationTests {
    /// Both pass on a fresh backup (with a tablespace), both fail after one byte of a relation
    /// file is flipped and after a file is removed; verify catches a corrupt archived segment.
    @Test(arguments: TestEnv.pgBinDirs)
    func verifyAndPgVerifybackupAgree(binDir: String) async throws {
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await pair.setupAndRestart()
        let space = try pair.ownedDir("space1")
        try await pair.master.psql("CREATE TABLESPACE space1 LOCATION '\(space)'")
        try await pair.master.psql(
            "CREATE TABLE kept AS SELECT g FROM generate_series(1, 20000) g")
        try await pair.master.psql(
            "CREATE TABLE spaced TABLESPACE space1 AS SELECT g FROM generate_series(1, 500) g")
        let relation = try await pair.master.psql("SELECT pg_relation_filepath('kept')")
        try await pair.backup()
        try await pair.switchWAL()
        let dir = "\(pair.walmgrData)/data.master"
        try await expectBoth(pair, dir, ok: true, naming: nil)

        let file = "\(dir)/\(relation)"
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        var flipped = original
        flipped[8192 + 100] ^= 0x01
        try flipped.write(to: URL(fileURLWithPath: file))
        try await expectBoth(pair, dir, ok: false, naming: relation)

        try FileManager.default.removeItem(atPath: file)
        try await expectBoth(pair, dir, ok: false, naming: relation)
        try original.write(to: URL(fileURLWithPath: file))
        try await expectBoth(pair, dir, ok: true, naming: nil)

        let segment = try newestSegment(pair.completedWals)
        let path = "\(pair.completedWals)/\(segment)"
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 8)
        try handle.write(contentsOf: Data(repeating: 0, count: 8))
        try handle.close()
        let corrupt = try await pair.run([pair.slaveIni, "verify"])
        #expect(corrupt.status == 1)
        #expect(corrupt.output.contains("PROBLEM \(path): page address expected "))
    }

    /// Over ssh the copy is rsync's: the slave hashes the copy when it seals the backup, and
    /// both checks pass.
    @Test(.enabled(if: SSHD.isAvailable), arguments: TestEnv.pgBinDirs.prefix(1))
    func rsyncBackupIsSealedOnTheSlave(binDir: String) async throws {
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(binDir: binDir, sshd: sshd)
            defer { pair.destroy() }
            try await pair.setupAndRestart()
            try await pair.pgbench(["-i", "-s", "1", "-q"])
            try await pair.backup()
            let dir = "\(pair.walmgrData)/data.master"
            let manifest = try BackupManifest.decode(
                Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/walmgr_manifest.json"))))
            #expect((manifest.files?.count ?? 0) > 100)
            try await expectBoth(pair, dir, ok: true, naming: nil)
        }
    }

    /// Runs `walmgr verify` and `pg_verifybackup` (with the archive as its WAL dir) on `dir`.
    func expectBoth(_ pair: WalmgrPair, _ dir: String, ok: Bool, naming: String?) async throws {
        let verify = try await pair.run([pair.slaveIni, "verify"])
        let stock = try await TestEnv.runner.run(
            pair.master.pgCommand("pg_verifybackup", ["-w", pair.completedWals, dir]))
        let shown =
            "verify: \(verify.output)\(verify.stderrTail)\npg_verifybackup: "
            + "\(stock.output)\(stock.stderrTail)"
        #expect(verify.succeeded == ok, "\(shown)")
        #expect(stock.succeeded == ok, "\(shown)")
        if let naming {
            #expect(verify.output.contains("PROBLEM \(dir)/\(naming): "), "\(shown)")
            #expect(stock.stderrTail.contains(naming), "\(shown)")
        }
    }

    /// The newest uncompressed segment in the archive.
    func newestSegment(_ dir: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        let segments = names.filter { WALName($0)?.kind == .segment }
        guard let newest = segments.max() else { throw HarnessError("no segment in \(dir)") }
        return newest
    }
}
