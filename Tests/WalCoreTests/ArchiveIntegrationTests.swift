import Foundation
import Synchronization
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

        // A DBA's own archive_mode = off is only reported.
        try await pair.master.psql("ALTER SYSTEM SET archive_mode = off")
        let own = try await pair.run([pair.masterIni, "setup"])
        #expect(own.stderrTail.contains("ALTER SYSTEM RESET archive_mode;"), "\(own.stderrTail)")
        #expect(!own.stderrTail.contains("removed archive_mode"), "\(own.stderrTail)")

        // The archive_mode = off restore writes for a standby (next to its restore_command),
        // on a server no longer in recovery (promoted by boot): setup removes it, and only it.
        try await pair.master.psql(
            "ALTER SYSTEM SET restore_command = '/usr/bin/walmgr /etc/walmgr/wal-slave.ini "
                + "xrestore %f %p %r'")
        let third = try await pair.run([pair.masterIni, "setup"])
        #expect(third.succeeded, "\(third.stderrTail)")
        #expect(third.stderrTail.contains("removed archive_mode = off in"), "\(third.stderrTail)")
        #expect(third.stderrTail.contains("archive_mode needs a restart"), "\(third.stderrTail)")
        let auto = try String(
            contentsOfFile: "\(pair.master.dataDir)/postgresql.auto.conf", encoding: .utf8)
        #expect(!auto.contains("archive_mode"))
        #expect(auto.contains("archive_command = '/bin/true'"), "an override setup did not write")
    }

    /// setup reports pending_restart only after the server re-read its configuration: the
    /// postmaster's reload is held by an included FIFO that nothing writes yet, so a setup that
    /// looked before the reload would say "all settings are active" while archive_mode waits
    /// for a restart (and the DBA would not restart).
    @Test func setupWaitsForTheReloadItAskedFor() async throws {
        let pair = try await WalmgrPair(binDir: try #require(TestEnv.defaultBinDir))
        defer { pair.destroy() }
        try await pair.master.start()
        let fifo = "\(pair.scratch)/held.conf"
        try #require(mkfifo(fifo, 0o644) == 0)
        try TestEnv.chownToRunAsUser(fifo, mode: 0o644)
        try pair.master.appendConf("include_if_exists = '\(fifo)'")
        let ended = Atomic<Bool>(false)
        let command = Command(
            pair.walmgr, [pair.masterIni, "setup"], workingDirectory: pair.scratch,
            user: TestEnv.runAsUser)
        let setup = Task {
            defer { ended.store(true, ordering: .sequentiallyConsistent) }
            return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(120))
        }
        // The reload is under way once the postmaster waits in open() for a writer (a probe
        // that opened the FIFO would end that wait).
        let postmaster = try #require(pair.master.postmasterPID)
        try await waitUntil("the postmaster waits to read \(fifo)") {
            (try? String(contentsOfFile: "/proc/\(postmaster)/wchan", encoding: .utf8))
                == "wait_for_partner"
        }
        // Hold the reload 2 s (setup waits up to 10), or until a setup that did not wait ended.
        let held = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < held, !ended.load(ordering: .sequentiallyConsistent) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let feeder = Task {
            while !Task.isCancelled {
                _ = Self.feed(fifo)
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { feeder.cancel() }
        let result = try await setup.value
        #expect(result.succeeded, "\(result.stderrTail)")
        #expect(result.stderrTail.contains("archive_mode needs a restart"), "\(result.stderrTail)")
        #expect(!result.stderrTail.contains("all settings are active"))
    }

    /// Ends one reader's read of `fifo` with an empty file; false when nobody reads it.
    static func feed(_ fifo: String) -> Bool {
        let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
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
