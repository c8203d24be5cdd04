import Foundation
import Testing

@testable import WalCore

/// compress_method end to end: a real PostgreSQL archives through walmgr with zstd, locally and
/// over sshd, and xrestore hands back the exact segments. Local runs on the oldest bin dir and
/// ssh on the newest, so both server versions are covered in about half a minute.
@Suite(.serialized) struct CompressionIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs.prefix(1))
    func zstdLocallyThenXRestore(binDir: String) async throws {
        let pair = try await WalmgrPair(binDir: binDir, masterExtra: "compress_method = zstd\n")
        defer { pair.destroy() }
        try await archiveCompressedAndRestore(pair, method: .zstd)
    }

    @Test(.enabled(if: SSHD.isAvailable), arguments: TestEnv.pgBinDirs.suffix(1))
    func zstdOverSSHThenXRestore(binDir: String) async throws {
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(
                binDir: binDir, sshd: sshd,
                masterExtra: "compress_method = zstd\ncompress_level = 3\n")
            defer { pair.destroy() }
            try await archiveCompressedAndRestore(pair, method: .zstd)
        }
    }

    /// Archives a few pgbench segments, then checks suffixes, sizes, xrestore output and the
    /// duplicate check against the real files.
    func archiveCompressedAndRestore(_ pair: WalmgrPair, method: CompressMethod) async throws {
        try pair.master.appendConf("wal_keep_size = '1GB'")
        try await pair.setupAndRestart()
        try await pair.master.psql(
            """
            CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;
            DO $$ BEGIN FOR i IN 1..3 LOOP
              UPDATE t SET v = md5(v) WHERE id % 4 = i;
              PERFORM pg_switch_wal();
            END LOOP; END $$
            """)
        let last = try await pair.switchAndWaitArchived()
        let stored = try FileManager.default.contentsOfDirectory(atPath: pair.completedWals)
            .compactMap { ArchivedWAL(fileName: $0) }.filter { $0.name.kind == .segment }
        #expect(stored.count >= 4)
        #expect(stored.allSatisfy { $0.method == method }, "\(stored)")
        #expect(stored.contains { $0.name.name == last })
        var restored = 0
        for file in stored {
            let source = "\(pair.master.dataDir)/pg_wal/\(file.name.name)"
            guard FileManager.default.fileExists(atPath: source) else { continue }
            let packed =
                try FileManager.default.attributesOfItem(
                    atPath: "\(pair.completedWals)/\(file.fileName)")[.size] as! Int
            #expect(packed < 16 << 20)
            let target = "\(pair.scratch)/restored-\(file.name.name)"
            let result = try await pair.run([pair.slaveIni, "xrestore", file.name.name, target])
            #expect(result.succeeded, "\(result.stderrTail)")
            #expect(try FileCompare.identical(source, target), "\(file)")
            restored += 1
        }
        #expect(restored >= 4)
        // Archiving the same segment again (PostgreSQL retries after a crash) finds the copy.
        let again = try await pair.run(
            [pair.masterIni, "xarchive", "pg_wal/\(last)", last], cwd: pair.master.dataDir)
        #expect(again.succeeded, "\(again.stderrTail)")
        #expect(again.stderrTail.contains("already archived"))
        #expect(try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver") == "0")
    }
}
