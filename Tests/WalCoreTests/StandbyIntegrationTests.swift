import Foundation
import Testing

@testable import WalCore

/// restore → replicate → boot → restore again, on real servers (seed 002), plus refusals.
@Suite(.serialized) struct StandbyIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func streamingStandbyLifecycle(binDir: String) async throws {
        try await lifecycle(binDir: binDir, streaming: true)
    }

    @Test(arguments: TestEnv.pgBinDirs)
    func archiveOnlyStandbyLifecycle(binDir: String) async throws {
        try await lifecycle(binDir: binDir, streaming: false)
    }

    func lifecycle(binDir: String, streaming: Bool) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: streaming)
        defer { lab.destroy() }
        try await lab.master.psql(
            "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
        try await lab.makeBackup()
        try await restoreAndFollow(lab, value: "b", streaming: streaming)

        let pause = try await lab.walmgr(["pause"])
        #expect(pause.succeeded && pause.output.contains("replay: pause"), "\(pause.stderrTail)")
        #expect(FileManager.default.fileExists(atPath: "\(lab.completedWals)/PAUSE"))
        let resume = try await lab.walmgr(["continue"])
        #expect(resume.succeeded && resume.output.contains("replay: not paused"))
        #expect(!FileManager.default.fileExists(atPath: "\(lab.completedWals)/PAUSE"))

        let boot = try await lab.walmgr(["boot"])
        #expect(boot.succeeded, "boot: \(boot.stderrTail)")
        #expect(boot.output.contains("promoted: timeline 2"), "\(boot.output)")
        let standby = lab.attachStandby()
        try await standby.psql("INSERT INTO t VALUES (2, 'written after boot')")
        let timeline = try await standby.psql(
            "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")
        #expect(timeline == "00000002")
        let again = try await lab.walmgr(["boot"])
        #expect(again.succeeded && again.output.contains("already promoted"), "\(again.output)")

        // A promoted standby's history in the shared archive must not break a fresh restore.
        try FileManager.default.copyItem(
            atPath: "\(lab.standbyData)/pg_wal/00000002.history",
            toPath: "\(lab.completedWals)/00000002.history")
        try await lab.makeBackup(label: "fresh")
        try await restoreAndFollow(lab, value: "c", streaming: streaming)
        let rows = try await standby.psql("SELECT count(*) FROM t")
        #expect(rows == "1", "the standby follows the master again, not its own timeline 2")
    }

    /// restore, then an UPDATE on the master shows up on the standby.
    func restoreAndFollow(_ lab: StandbyLab, value: String, streaming: Bool) async throws {
        let standby = try await lab.restoreStandby()
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "t")
        // Started with syncfs (14+) on pg_ctl's command line, not from a config file.
        #expect(
            try await standby.psql(
                "SELECT setting || ' ' || source FROM pg_settings "
                    + "WHERE name = 'recovery_init_sync_method'") == "syncfs command line")
        let auto = try String(
            contentsOfFile: "\(lab.standbyData)/postgresql.auto.conf", encoding: .utf8)
        #expect(auto.components(separatedBy: "restore_command").count == 2, "one restore_command")
        #expect(auto.contains("primary_conninfo") == streaming)
        try await lab.master.psql("UPDATE t SET v = '\(value)' WHERE id = 1")
        if !streaming { try await lab.master.psql("SELECT pg_switch_wal()") }
        try await waitUntil("the UPDATE on the standby") {
            try await standby.psql("SELECT v FROM t WHERE id = 1") == value
        }
    }

    /// `backup` with the slave's config copies the running standby (the master is spared the
    /// copy), asks the master through master_db to switch WAL, and the result recovers to the
    /// master's data; listbackups names it as taken from the standby.
    @Test(arguments: TestEnv.pgBinDirs)
    func standbyBackupRecoversToTheMastersData(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try await lab.master.psql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 500) g")
        try await lab.makeBackup()
        let standby = try await lab.restoreStandby()
        try await lab.master.psql("INSERT INTO t SELECT g FROM generate_series(501, 900) g")
        try await waitUntil("the standby has 900 rows") {
            try await standby.psql("SELECT count(*) FROM t") == "900"
        }
        let socket = lab.master.socketDir
        let extra =
            "slave_db = host=\(socket) port=\(lab.standbyPort) dbname=postgres user=postgres\n"
            + "master_db = \(lab.master.conninfo)\nkeep_backups = 1\n"
        let ini = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        try TestEnv.writeOwned(lab.slaveIni, ini + extra)

        let backup = try await lab.walmgr(["backup"])
        try #require(backup.succeeded, "standby backup: \(backup.stderrTail)")
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "t", "still a standby")
        try await lab.master.psql("INSERT INTO t SELECT g FROM generate_series(901, 950) g")
        let segment = try await lab.switchWAL()

        let list = try await lab.walmgr(["listbackups", "--json"])
        let manifests = try JSONDecoder().decode(
            [BackupManifest].self, from: Data(list.output.utf8))
        let newest = try #require(manifests.first)
        #expect(newest.name == "data.master" && newest.status == "complete")
        #expect(newest.takenFrom == "standby" && newest.sizeBytes > 0 && newest.fileCount > 0)
        #expect(manifests.contains { $0.name == "data.master.0" }, "keep_backups = 1 keeps one")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.fullBackup).inprogress"))
        #expect(FileManager.default.fileExists(atPath: "\(lab.fullBackup)/backup_label"))

        try await lab.waitArchived(segment, "the segment with row 950")
        let copy = try await PGCluster.recovered(
            from: lab.fullBackup, like: lab.master, scratch: lab.scratch,
            archive: lab.completedWals)
        defer { copy.destroy() }
        #expect(try await copy.psql("SELECT count(*), max(id) FROM t") == "950|950")
    }

    /// `restore SET DST` into a running cluster's data dir, with backup_datadir = no (the old
    /// dir would be deleted), is refused naming the postmaster's pid; dir and server untouched.
    @Test func restoreRefusesALiveClusterAsDestination() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        defer { lab.destroy() }
        try await lab.makeBackup()
        let pid = try #require(lab.master.postmasterPID)
        // Without the guard the data dir (and postmaster.pid) is gone: stop the server by pid.
        defer { TestEnv.terminate(pid, signal: SIGQUIT) }
        try await lab.master.psql("CREATE TABLE kept (id int)")
        let dataDir = lab.master.dataDir
        let result = try await lab.walmgr(["restore", "data.master", dataDir])
        #expect(result.status == 1, "\(result.stderrTail)")
        #expect(result.stderrTail.contains("pid \(pid)"), "\(result.stderrTail)")
        #expect(result.stderrTail.contains("refusing to move or remove \(dataDir)"))
        #expect(lab.master.postmasterPID == pid)
        #expect(try await lab.master.psql("SELECT count(*) FROM kept") == "0")
        #expect(!FileManager.default.fileExists(atPath: "\(dataDir).walmgr-restore"))
    }

    /// Takes walmgr's lock at `path` as another walmgr would; the file belongs to the user
    /// walmgr runs as, so the refused walmgr can open it.
    static func holdLock(_ path: String) throws -> DaemonLock {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        try TestEnv.chownToRunAsUser(path, mode: 0o644)
        return try #require(try DaemonLock.take(path))
    }

    @Test func refusesWhatItCannotDoSafely() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let lab = try await StandbyLab(
            binDir: binDir, streaming: true, slaveExtra: "slave_stop_cmd = /bin/true")
        defer { lab.destroy() }
        try await lab.makeBackup()
        let unknown = try await lab.walmgr(["restore", "data.master.7"])
        #expect(unknown.status == 1)
        #expect(unknown.stderrTail.contains("available: data.master"), "\(unknown.stderrTail)")

        // Another restore into the same place holds its lock: this one changes nothing (it
        // would have removed the other's staging dir while that one copies).
        let staging = "\(lab.standbyData).walmgr-restore"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try "copying".write(toFile: "\(staging)/sentinel", atomically: true, encoding: .utf8)
        for path in [staging, "\(staging)/sentinel"] {
            try TestEnv.chownToRunAsUser(path, mode: 0o755)
        }
        let lockFile = "\(lab.standbyData).walmgr-restore.pid"
        let other = try Self.holdLock(lockFile)
        let twice = try await lab.walmgr(["restore"])
        other.release()
        #expect(twice.status == 1)
        #expect(
            twice.stderrTail.contains(
                "another restore into \(lab.standbyData) is running (pid \(getpid())"),
            "\(twice.stderrTail)")
        #expect(FileManager.default.fileExists(atPath: "\(staging)/sentinel"))

        #expect(try await lab.walmgr(["restore"]).succeeded)
        let standby = lab.attachStandby()
        let pid = try #require(standby.postmasterPID)
        try "keep".write(toFile: "\(lab.standbyData)/marker", atomically: true, encoding: .utf8)
        let busy = try await lab.walmgr(["restore"])
        #expect(busy.status == 1)
        #expect(busy.stderrTail.contains("pid \(pid)") && busy.stderrTail.contains(lab.standbyData))
        #expect(FileManager.default.fileExists(atPath: "\(lab.standbyData)/marker"))
        #expect(standby.postmasterPID == pid)

        // A truncated real segment is refused and never reaches the target path.
        let segment = try #require(
            try FileManager.default.contentsOfDirectory(atPath: lab.completedWals)
                .filter { WALName($0)?.kind == .segment }.max())
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(lab.completedWals)/\(segment)"))
        let fake = "00000001000000FF00000001"
        try data.prefix(data.count / 2).write(
            to: URL(fileURLWithPath: "\(lab.completedWals)/\(fake)"))
        let target = "\(lab.scratch)/RECOVERYXLOG"
        let bad = try await lab.walmgr(["xrestore", fake, target])
        #expect(bad.status == 1)
        #expect(!FileManager.default.fileExists(atPath: target))
        let hostile = try await lab.walmgr(["xrestore", "../\(segment)", target])
        #expect(hostile.status == 1)

        let unconfirmed = try await lab.walmgr(["cleanup"])
        #expect(unconfirmed.status == 1 && unconfirmed.stderrTail.contains("--yes"))
        #expect(FileManager.default.fileExists(atPath: lab.walmgrData))
        let restoring = try Self.holdLock(lockFile)
        let during = try await lab.walmgr(["cleanup", "--yes"])
        restoring.release()
        #expect(during.status == 1 && during.stderrTail.contains("another restore into"))
        #expect(FileManager.default.fileExists(atPath: lab.walmgrData))
        let cleanup = try await lab.walmgr(["cleanup", "--yes"])
        #expect(cleanup.succeeded, "\(cleanup.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: lab.walmgrData))
        #expect(FileManager.default.fileExists(atPath: "\(lab.standbyData)/marker"))
    }
}
