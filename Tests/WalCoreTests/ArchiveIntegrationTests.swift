import Foundation
import Testing

@testable import WalCore

/// xarchive end to end: a real PostgreSQL archiving through walmgr, locally and over sshd.
@Suite(.serialized) struct ArchiveIntegrationTests {
    static let segmentTarget = 20

    @Test(arguments: TestEnv.pgBinDirs)
    func archivesEverySegmentLocally(binDir: String) async throws {
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await archiveAndVerify(pair)
        try await duplicatesAndConflicts(pair)
        try await hostileNamesChangeNothing(pair)
        try await killDuringCopyLeavesNoFinalFile(pair)
    }

    @Test(.enabled(if: SSHD.isAvailable), arguments: TestEnv.pgBinDirs)
    func archivesOverSSHAndSurvivesSSHDOutage(binDir: String) async throws {
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(binDir: binDir, sshd: sshd)
            defer { pair.destroy() }
            try await archiveAndVerify(pair)
            try await duplicatesAndConflicts(pair)

            sshd.stop()
            try await closeSSHControlMaster(sshd)
            let before = try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver")
            try await pair.master.psql("CREATE TABLE during_outage AS SELECT 1 AS x")
            let pending = try await pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
            let segment = "\(pair.master.dataDir)/pg_wal/\(pending)"
            try await waitUntil("the archiver reports a failure") {
                try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver") != before
            }
            let direct = try await pair.run(
                [pair.masterIni, "xarchive", "pg_wal/\(pending)", pending], cwd: pair.master.dataDir
            )
            #expect(direct.status == 1, "ssh failure must map to 1, got \(direct.statusText)")
            #expect(direct.stderrTail.contains("ssh to"))
            #expect(!FileManager.default.fileExists(atPath: "\(pair.completedWals)/\(pending)"))

            try await sshd.start()
            // A new segment wakes the archiver at once instead of after its 60 s back-off.
            try await pair.master.psql("CREATE TABLE after_outage AS SELECT 1 AS x")
            try await pair.switchAndWaitArchived()
            try await pair.waitArchived(pending)
            #expect(try FileCompare.identical(segment, "\(pair.completedWals)/\(pending)"))
        }
    }

    @Test(arguments: TestEnv.pgBinDirs)
    func setupIsIdempotentAndReportsAlterSystemOverrides(binDir: String) async throws {
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await pair.master.start()
        let conf = "\(pair.master.dataDir)/postgresql.conf"
        #expect(try await pair.run([pair.masterIni, "setup"]).succeeded)
        let first = try String(contentsOfFile: conf, encoding: .utf8)
        #expect(first.contains("archive_mode = on"))
        #expect(first.contains("xarchive %p %f"))
        #expect(first.contains("#archive_command = ''"), "comments stay byte for byte")
        try await pair.master.psql("ALTER SYSTEM SET archive_timeout = '5min'")
        try await pair.master.psql("ALTER SYSTEM SET archive_command = '/bin/true'")
        let second = try await pair.run([pair.masterIni, "setup"])
        #expect(second.succeeded)
        #expect(try String(contentsOfFile: conf, encoding: .utf8) == first)
        #expect(second.stderrTail.contains("nothing changed"))
        #expect(second.stderrTail.contains("postgresql.auto.conf overrides"))
        #expect(second.stderrTail.contains("ALTER SYSTEM RESET archive_command"))
        #expect(!second.stderrTail.contains("RESET archive_timeout"), "not a setting setup writes")
    }

    // MARK: - steps

    func archiveAndVerify(_ pair: WalmgrPair) async throws {
        try pair.master.appendConf("wal_keep_size = '1GB'")
        try await pair.setupAndRestart()
        try await TestEnv.run(
            pair.master.pgCommand(
                "pgbench",
                [
                    "-i", "-s", "1", "-h", pair.master.socketDir, "-p", "\(pair.master.port)",
                    "-U", "postgres", "postgres",
                ]))
        // One session writes and switches 20 times, so the archiver gets 20 segments in a row.
        try await pair.master.psql(
            """
            DO $$ BEGIN FOR i IN 1..\(Self.segmentTarget) LOOP
              UPDATE pgbench_accounts SET abalance = abalance + i WHERE aid % 50 = i;
              PERFORM pg_switch_wal();
            END LOOP; END $$
            """)
        try await pair.switchAndWaitArchived()
        let archived = try FileManager.default.contentsOfDirectory(atPath: pair.completedWals)
            .filter { WALName($0)?.kind == .segment }
        #expect(archived.count >= Self.segmentTarget)
        var compared = 0
        for name in archived {
            let source = "\(pair.master.dataDir)/pg_wal/\(name)"
            guard FileManager.default.fileExists(atPath: source) else { continue }
            #expect(try FileCompare.identical(source, "\(pair.completedWals)/\(name)"), "\(name)")
            compared += 1
        }
        #expect(compared >= Self.segmentTarget)
        #expect(try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver") == "0")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: pair.completedWals)
            .filter { $0.hasSuffix(".walmgr-tmp") }
        #expect(leftovers.isEmpty)
    }

    func duplicatesAndConflicts(_ pair: WalmgrPair) async throws {
        let name = try await pair.switchAndWaitArchived()
        let archived = "\(pair.completedWals)/\(name)"
        let original = try Data(contentsOf: URL(fileURLWithPath: archived))
        let again = try await pair.run(
            [pair.masterIni, "xarchive", "pg_wal/\(name)", name], cwd: pair.master.dataDir)
        #expect(again.succeeded, "identical content is a success: \(again.stderrTail)")

        let impostor = "\(pair.scratch)/impostor"
        var changed = original
        changed[100] ^= 0xFF
        try changed.write(to: URL(fileURLWithPath: impostor))
        try TestEnv.chownToRunAsUser(impostor, mode: 0o644)
        let conflict = try await pair.run([pair.masterIni, "xarchive", impostor, name])
        #expect(conflict.status == 1)
        #expect(conflict.stderrTail.contains("different content"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: archived)) == original)
    }

    func hostileNamesChangeNothing(_ pair: WalmgrPair) async throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: pair.completedWals)
            .sorted()
        let hostile = [
            "../x", "a/b", "000000010000000000000001;touch /tmp/pwned", "$(id)", "",
            String(repeating: "0", count: 65),
        ]
        for name in hostile {
            let result = try await pair.run(
                [pair.masterIni, "xarchive", "pg_wal/000000010000000000000001", name],
                cwd: pair.master.dataDir)
            #expect(result.status == 1, "\(name): \(result.statusText)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned"))
        #expect(!FileManager.default.fileExists(atPath: "\(pair.walmgrData)/x"))
        let after = try FileManager.default.contentsOfDirectory(atPath: pair.completedWals).sorted()
        #expect(after == before)
    }

    func killDuringCopyLeavesNoFinalFile(_ pair: WalmgrPair) async throws {
        let name = "0000000100000000000000F0"
        let source = "\(pair.scratch)/segment"
        try Data(repeating: 0x5A, count: 16 << 20).write(to: URL(fileURLWithPath: source))
        try TestEnv.chownToRunAsUser(source, mode: 0o644)
        let final = "\(pair.completedWals)/\(name)"
        for delay in ["0.005", "0.01", "0.02"] {
            let killed = Command(
                "timeout",
                ["-s", "KILL", delay, pair.walmgr, pair.masterIni, "xarchive", source, name],
                user: TestEnv.runAsUser)
            _ = try await TestEnv.runner.run(killed)
            if FileManager.default.fileExists(atPath: final) {
                #expect(try FileCompare.identical(source, final), "a final file must be complete")
                try FileManager.default.removeItem(atPath: final)
            }
        }
        let retry = try await pair.run([pair.masterIni, "xarchive", source, name])
        #expect(retry.succeeded, "\(retry.stderrTail)")
        #expect(try FileCompare.identical(source, final))
        // The killed runs' temps stay until xpurgewals (archiving never lists completed_wals).
        let purge = try await pair.run([pair.slaveIni, "xpurgewals"])
        #expect(purge.succeeded, "\(purge.stderrTail)")
        #expect(TestEnv.walmgrTemps(in: pair.completedWals, for: name).isEmpty)
    }
}
