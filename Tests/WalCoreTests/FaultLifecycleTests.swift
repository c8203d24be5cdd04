import Foundation
import Testing

@testable import WalCore

/// Fault cases 7–9: a master crash during `backup`, kill -9 of `restore`, and `boot` twice
/// while clients use both servers. One PostgreSQL version, like the other network cases.
@Suite(.serialized)
struct FaultLifecycleTests {
    /// Case 7: the master crashes (`-m immediate`) while `backup` copies over ssh. The backup
    /// notices during the copy (rsync is slowed so much that it could not finish within the
    /// test's timeout), exits non-zero naming the stopped master, claims nothing, leaves no lock
    /// or `.inprogress` dir, and the next one works.
    @Test(.enabled(if: SSHD.isAvailable), arguments: FaultLab.networkBinDirs)
    func masterCrashDuringBackupClaimsNothing(binDir: String) async throws {
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(binDir: binDir, sshd: sshd)
            defer { pair.destroy() }
            try await pair.setupAndRestart()
            try await pair.backup()
            let before = try await pair.listBackups(pair.slaveIni)
            let (path, pidFile) = try slowWrapper(
                pair.scratch, program: "rsync",
                exec: "/usr/bin/rsync --bwlimit=100")
            // full_backup as host:path makes the copy an rsync over ssh, slowed by the wrapper.
            let remote = "full_backup=\(sshd.user)@\(sshd.host):\(pair.walmgrData)/data.master"
            let command = pair.walmgrCommand(
                // A full copy: an incremental one would link every file before the crash.
                ["--set", remote, "--set", "backup_incremental=off", pair.masterIni, "backup"],
                environment: ["PATH": path])
            let slow = Task {
                try await TestEnv.runner.run(command, input: .none, timeout: .seconds(120))
            }
            try await waitUntil("the backup runs rsync") {
                FileManager.default.fileExists(atPath: pidFile)
            }
            pair.master.stop(mode: "immediate")
            let crashed = try await slow.value
            #expect(!crashed.succeeded, "a backup of a crashed master must fail")
            #expect(!crashed.timedOut, "the backup must notice the crash during its copy")
            #expect(crashed.stderrTail.contains("backup failed"), "\(crashed.stderrTail)")
            #expect(
                crashed.stderrTail.contains("the master stopped during the backup"),
                "\(crashed.stderrTail)")

            let fm = FileManager.default
            #expect(!fm.fileExists(atPath: "\(pair.completedWals)/BACKUPLOCK"))
            #expect(!fm.fileExists(atPath: "\(pair.walmgrData)/data.master.inprogress"))
            #expect(try await pair.listBackups(pair.slaveIni) == before)

            try await pair.master.start()
            try await pair.backup()
            let after = try await pair.listBackups(pair.slaveIni)
            let newest = try #require(after.first)
            #expect(newest.status == "complete" && newest.startWAL != before.first?.startWAL)
        }
    }

    /// Case 8: kill -9 of `restore` (and its cp) mid-copy; the rerun succeeds, the standby runs,
    /// and the backup in data.master keeps its manifest and its files.
    @Test(arguments: FaultLab.networkBinDirs)
    func restoreKilledThenRerunSucceeds(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try await lab.master.psql(
            "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
        try await lab.makeBackup()
        let manifestPath = "\(lab.fullBackup)/\(BackupManifest.fileName)"
        let manifest = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        let files = fileCount(lab.fullBackup)

        // The cp wrapper copies in the background and then holds on until it is killed, so the
        // test finds restore inside its copy however late it looks (busy test threads once made
        // it miss a window of a second).
        let (path, pidFile) = try slowWrapper(
            lab.scratch, program: "cp", exec: "/bin/cp", holdAfterStarting: true)
        let log = "\(lab.scratch)/restore.log"
        let restore = try spawnWalmgr(lab, ["-v", "restore"], path: path, stderr: log)
        let staging = "\(lab.standbyData).walmgr-restore"
        try await waitUntil("restore copies into \(staging), or exits") {
            !restore.isRunning
                || (FileManager.default.fileExists(atPath: staging)
                    && Self.pids(in: pidFile).count == 2)
        }
        guard restore.isRunning else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no output)"
            throw HarnessError(
                "restore exited (\(restore.terminationStatus)) before copying:\n\(text)")
        }
        // kill -9 of the whole job, as systemd or an OOM kill of the group would do.
        kill(restore.processIdentifier, SIGKILL)
        try await TestEnv.waitExit(restore)
        for pid in Self.pids(in: pidFile) {
            TestEnv.terminate(pid, signal: SIGKILL)
        }
        #expect(!FileManager.default.fileExists(atPath: lab.standbyData), "DST was not touched")

        let again = try await lab.walmgr(["restore"])
        let standby = lab.attachStandby()
        try #require(again.succeeded, "restore: \(again.stderrTail)\n\(standby.logTail())")
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "a")
        #expect(!FileManager.default.fileExists(atPath: staging))
        #expect(try Data(contentsOf: URL(fileURLWithPath: manifestPath)) == manifest)
        #expect(fileCount(lab.fullBackup) == files)
    }

    /// Case 9: `boot` while a client reads from the standby and another writes to the master;
    /// reads never fail, and a second `boot` is a no-op that says so.
    @Test(arguments: FaultLab.networkBinDirs)
    func bootUnderLoadTwice(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try await lab.master.psql(
            "CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) VALUES ('a')")
        try await lab.makeBackup()
        let standby = try await lab.restoreStandby()
        let write = psqlCommand(lab.master, "INSERT INTO t (v) VALUES ('w')")
        let writer = Task {
            while !Task.isCancelled { _ = try? await TestEnv.run(write) }
        }
        let read = psqlCommand(standby, "SELECT count(*) FROM t")
        let reader = Task { () -> (ok: Int, failed: [String]) in
            var ok = 0
            var failed: [String] = []
            while !Task.isCancelled {
                do {
                    _ = try await TestEnv.run(read)
                    ok += 1
                } catch is CancellationError {
                    break
                } catch { failed.append("\(error)") }
            }
            return (ok, failed)
        }
        try await waitUntil("rows streamed to the standby") {
            try await standby.psql("SELECT count(*) > 3 FROM t") == "t"
        }
        let boot = try await lab.walmgr(["boot"])
        let again = try await lab.walmgr(["boot"])
        writer.cancel()
        reader.cancel()
        let reads = await reader.value
        #expect(boot.succeeded && boot.output.contains("promoted"), "boot: \(boot.stderrTail)")
        #expect(again.succeeded, "second boot: \(again.stderrTail)")
        #expect(again.output.contains("already promoted"), "\(again.output)")
        #expect(reads.ok > 0 && reads.failed.isEmpty, "reads failed: \(reads.failed.prefix(3))")
        try await standby.psql("INSERT INTO t (v) VALUES ('after boot')")
    }

    /// A `program` wrapper in its own dir that records its PID, waits a moment, then execs
    /// `exec` (the PID stays the real program's); returns a PATH starting there and the PID file.
    /// With `holdAfterStarting` it starts `exec` in the background (recording that PID too) and
    /// then sleeps until killed instead, so its caller never gets past this step by itself.
    /// The pids on whole lines of `file` (the wrapper's shell creates it before it writes).
    static func pids(in file: String) -> [pid_t] {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .compactMap { pid_t($0) }
    }

    func slowWrapper(
        _ scratch: String, program: String, exec: String, holdAfterStarting: Bool = false
    ) throws -> (String, String) {
        let bin = "\(scratch)/slowbin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(bin, mode: 0o755)
        let pidFile = "\(scratch)/\(program).pid"
        let body =
            holdAfterStarting
            ? "\(exec) \"$@\" &\necho $! >> \(pidFile)\necho $$ >> \(pidFile)\nexec sleep 600\n"
            : "echo $$ >> \(pidFile)\nsleep 1\nexec \(exec) \"$@\"\n"
        try ("#!/bin/sh\n" + body).write(
            toFile: "\(bin)/\(program)", atomically: false, encoding: .utf8)
        chmod("\(bin)/\(program)", 0o755)
        let path = "\(bin):" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return (path, pidFile)
    }

    /// Starts `walmgr SLAVE_INI ARGS` as the server's user with `path` as PATH and stderr in
    /// the file `stderr`.
    func spawnWalmgr(_ lab: StandbyLab, _ arguments: [String], path: String, stderr: String)
        throws -> Process
    {
        try TestEnv.spawn(
            TestEnv.asRunUser([lab.walmgr, lab.slaveIni] + arguments), cwd: lab.scratch,
            environment: ["PATH": path], stderr: stderr)
    }

    /// psql running one statement against `cluster`, as a Sendable command for a load task.
    func psqlCommand(_ cluster: PGCluster, _ sql: String) -> Command {
        cluster.pgCommand(
            "psql",
            [
                "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", cluster.socketDir, "-p", "\(cluster.port)",
                "-U", "postgres", "-d", "postgres", "-c", sql,
            ])
    }

    /// Regular files and dirs under `dir`.
    func fileCount(_ dir: String) -> Int {
        FileManager.default.enumerator(atPath: dir)?.allObjects.count ?? -1
    }
}
