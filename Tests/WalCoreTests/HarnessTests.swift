import Foundation
import Testing
import WalCore

@Suite("Test harness", .serialized)
struct HarnessTests {
    @Test func scratchDirIsShortAndOwnedByTheRunAsUser() throws {
        let dir = try TestEnv.scratchDir(prefix: "wmt")
        defer { TestEnv.removeScratch(dir) }
        #expect(dir.hasPrefix("/tmp/wmt-") && dir.utf8.count < 20)
        var st = stat()
        #expect(stat(dir, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o755)
        let owner = UserAccount(uid: st.st_uid)?.name
        #expect(owner == TestEnv.serverUserName)
    }

    /// A child that exits without reading its input (as walmgr does when it refuses a name)
    /// gives its own status; writing the input neither throws EPIPE nor raises SIGPIPE. Runs
    /// with the default SIGPIPE action, as a process that never ignored it would.
    @Test func childThatIgnoresItsInputStillReportsItsStatus() async throws {
        let previous = signal(SIGPIPE, SIG_DFL)
        defer { signal(SIGPIPE, previous) }
        let input = [UInt8](repeating: 7, count: 8 << 20)  // more than a pipe buffer
        for _ in 0..<5 {
            let result = try await SubprocessRunner().run(
                Command("/bin/sh", ["-c", "exit 3"]), input: .bytes(input), timeout: .seconds(30))
            #expect(result.status == 3 && !result.signaled)
        }
        let read = try await SubprocessRunner().run(
            Command("/usr/bin/wc", ["-c"]), input: .bytes(input), timeout: .seconds(30))
        #expect(read.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(8 << 20)")
    }

    /// A wait whose task runs only after its deadline (the pool was busy) still checks the
    /// condition once: a condition that holds is not a timeout. A deadline already past when
    /// the wait starts is the same case; a condition that never holds still times out.
    @Test func waitChecksOnceMoreAfterItsDeadline() async throws {
        try await waitUntil("a condition that holds", timeout: .zero) { true }
        await #expect(throws: HarnessError.self) {
            try await waitUntil("a condition that never holds", timeout: .zero) { false }
        }
    }

    @Test func freePortIsUsable() throws {
        let port = try TestEnv.freePort()
        #expect(port >= 10_000 && port < 32_768, "below the kernel's ephemeral range")
        #expect(!TestEnv.accepts(port: port))
        let others = try (0..<50).map { _ in try TestEnv.freePort() }
        #expect(
            !others.contains(port) && Set(others).count == others.count, "never handed out twice")
    }

    @Test(.enabled(if: !TestEnv.pgBinDirs.isEmpty, "no PostgreSQL bin dir found"))
    func clusterStartsRestartsAndStops() async throws {
        let binDir = try #require(TestEnv.pgBinDirs.first)
        var scratch = ""
        try await withCluster(binDir) { cluster in
            scratch = cluster.scratch
            #expect(cluster.isRunning)
            #expect(try await cluster.psql("SHOW fsync") == "on")
            #expect(try await cluster.psql("SELECT current_user") == "postgres")
            try await cluster.restart()
            #expect(try await cluster.psql("SELECT 1") == "1")
            cluster.stop(mode: "immediate")
            #expect(!cluster.isRunning)
            try await cluster.start()
            #expect(cluster.logTail().isEmpty == false)
        }
        #expect(TestEnv.keepScratch || !FileManager.default.fileExists(atPath: scratch))
    }

    @Test(.enabled(if: TestEnv.builtWalmgr() != nil, "walmgr is not built next to the tests"))
    func walmgrCopyIsExecutableByTheRunAsUser() async throws {
        let dir = try TestEnv.scratchDir()
        defer { TestEnv.removeScratch(dir) }
        let binary = try TestEnv.walmgrBinary(in: dir)
        #expect(access(binary, X_OK) == 0)
        let result = try await TestEnv.runner.run(
            Command(binary, ["--version"], workingDirectory: dir, user: TestEnv.runAsUser))
        #expect(result.succeeded, "\(result.statusText): \(result.stderrTail)")
    }

    @Test(.enabled(if: SSHD.isAvailable, "sshd is not installed (run `make deps`)"))
    func sshdLetsTheRunAsUserIn() async throws {
        try await withSSHD { sshd in
            let who = try await TestEnv.run(sshd.sshCommand(["id", "-un"]))
            #expect(who.trimmingCharacters(in: .whitespacesAndNewlines) == sshd.user)
            try await TestEnv.run(sshd.sshCommand(["true"]))
            try await sshd.restart()
            let echoed = try await TestEnv.run(sshd.sshCommand(["echo", "a b; 'c'"]))
            #expect(echoed == "a b; 'c'\n")
            // A session still open when the test ends goes with sshd.
            let open = sshd.sshCommand(["sleep", "600"])
            var argv = [open.executable] + open.arguments
            if let user = TestEnv.runAsUser {
                argv =
                    ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups"]
                    + argv
            }
            let client = try TestEnv.spawn(argv, cwd: "/")
            defer { client.terminate() }
            let listener = try #require(sshd.pid)
            var sessions: [pid_t] = []
            try await waitUntil("a session of sshd runs sleep") {
                sessions = TestEnv.descendants(of: listener)
                return sessions.contains { pid in
                    (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                        .hasPrefix("sleep") == true
                }
            }
            sshd.stop()
            #expect(!TestEnv.accepts(port: sshd.port))
            #expect(sessions.allSatisfy(TestEnv.processGone), "sessions outlived sshd")
        }
    }

    /// A failed archive_command attempt is found in a server log with the failed run's own
    /// lines before it and PostgreSQL's DETAIL after it; earlier runs' and PostgreSQL's earlier
    /// lines are left out, and so is the SIGQUIT of the harness's own immediate stop.
    @Test func archiveFailuresKeepWhatTheCommandSaid() {
        let log = """
            2026-11-30 12:00:00.001 UTC [10] LOG:  checkpoint complete
            2026-11-30 12:00:00,500 76 INFO archived 000000010000000000000001
            2026-11-30 12:00:01,001 77 INFO would archive
            2026-11-30 12:00:01,002 77 ERROR something walmgr said
                continued
            2026-11-30 12:00:01.003 UTC [11] LOG:  archive command failed with exit code 1
            2026-11-30 12:00:01.004 UTC [11] DETAIL:  The failed archive command was: walmgr x
            2026-11-30 12:00:02.005 UTC [11] LOG:  archive command failed with exit code 1
            2026-11-30 12:00:03.006 UTC [11] FATAL:  archive command was terminated by signal 3: Quit
            """
        let found = ArchiveFailures.attempts(inLog: log)
        #expect(found.count == 2)
        #expect(found.first?.hasPrefix("2026-11-30 12:00:01,001 77 INFO would") == true)
        #expect(found.first?.hasSuffix("was: walmgr x") == true)
        #expect(found.first?.contains("checkpoint") == false)
        #expect(found.last?.hasPrefix("2026-11-30 12:00:02.005") == true)
        #expect(ArchiveFailures.attempts(inLog: "LOG:  archiver started\n").isEmpty)
    }

    /// WAL written after the switch (the bgwriter logs a running-xacts record up to 15 s after
    /// it, on its own) moves pg_current_wal_lsn() into the next segment, which nothing
    /// archives: the wait must still be for the segment the switch completed.
    @Test func waitArchivedIsForTheSwitchedSegmentNotTheCurrentOne() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        defer { lab.destroy() }
        try await lab.master.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        let segment = try await lab.switchWAL()
        try await lab.master.psql("INSERT INTO t VALUES (2)")
        try await lab.waitArchived(segment, "the segment with row 1")
    }
}
