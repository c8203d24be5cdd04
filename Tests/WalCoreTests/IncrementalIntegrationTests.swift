import Foundation
import Testing

@testable import WalCore

/// Incremental backups against real PostgreSQL 15 and 18: `walmgr backup` into a local slave
/// (in-process copy), rotation with shared links, `verify`, `restore --move`, and a restored
/// standby replaying writes into files the backups share.
@Suite(.serialized)
struct IncrementalIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func linkedBackupsRotateVerifyAndRestore(binDir: String) async throws {
        let lab = try await StandbyLab(
            binDir: binDir, streaming: false, slaveExtra: "keep_backups = 1\n")
        defer { lab.destroy() }
        let master = lab.master
        // Nothing may write the cold table after this, or its file is rightly copied again:
        // VACUUM FREEZE sets the hint bits a later read would set, and autovacuum (which got to
        // it between two backups in a CI run under load) is off for it.
        try await master.psql(
            "CREATE TABLE cold WITH (autovacuum_enabled = off) AS "
                + "SELECT g, md5(g::text) AS t FROM generate_series(1, 20000) g; "
                + "CREATE TABLE hot AS SELECT g FROM generate_series(1, 20000) g")
        try await master.psql("VACUUM (FREEZE) cold")
        try await master.psql("CHECKPOINT")
        let cold = try await master.psql("SELECT pg_relation_filepath('cold')")
        let hot = try await master.psql("SELECT pg_relation_filepath('hot')")
        // Only files last written more than a second before the previous backup's start are
        // linked (IncrementalBase); wait for that instead of a third backup.
        let written = Self.stat("\(master.dataDir)/\(cold)").st_mtim.tv_sec
        try await waitUntil("2 s after the cold table was written") { time(nil) >= written + 2 }
        try await backup(lab)

        try await master.psql("UPDATE hot SET g = g + 1; CHECKPOINT")
        try await backup(lab)
        let newest = lab.fullBackup
        let older = "\(newest).0"
        #expect(Self.stat("\(newest)/\(cold)").st_ino == Self.stat("\(older)/\(cold)").st_ino)
        #expect(Self.stat("\(newest)/\(hot)").st_ino != Self.stat("\(older)/\(hot)").st_ino)
        let list = try await listBackups(lab)
        let second = try #require(list.first)
        #expect((second.reusedFiles ?? 0) > 0 && (second.reusedBytes ?? 0) > 0, "\(second)")
        #expect(second.copiedBytes == second.sizeBytes - (second.reusedBytes ?? 0))
        #expect(list.last?.reusedFiles == 0, "the first backup is a full copy")

        // A third backup: keep_backups = 1 drops the first; the two left still share files.
        try await backup(lab)
        #expect(!FileManager.default.fileExists(atPath: "\(newest).1"))
        #expect(Self.stat("\(newest)/\(cold)").st_nlink == 2)
        try await expectVerified(lab)
        let coldSum = try FileDigest.sha256(file: "\(older)/\(cold)").hex

        // restore --move consumes data.master; its files shared with .0 are copied.
        try rewriteConfigBackupPort(lab)
        let restore = try await lab.walmgr(["restore", "--move"])
        let standby = lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)\n\(standby.logTail())")
        #expect(Self.stat("\(lab.standbyData)/\(cold)").st_nlink == 1)
        // The standby replays writes into the cold table's file and flushes them.
        try await master.psql("UPDATE cold SET t = 'changed' WHERE g % 7 = 0")
        let expected = try await master.psql("SELECT md5(string_agg(t, ',' ORDER BY g)) FROM cold")
        let lsn = try await master.psql("SELECT pg_switch_wal()::text")
        try await waitUntil("the standby replayed past \(lsn)", timeout: .seconds(120)) {
            try await standby.psql(
                "SELECT pg_last_wal_replay_lsn() >= '\(lsn)'::pg_lsn") == "t"
        }
        try await standby.psql("CHECKPOINT")
        #expect(
            try await standby.psql("SELECT md5(string_agg(t, ',' ORDER BY g)) FROM cold")
                == expected)
        let (restored, original) = (try await dump(standby), try await dump(master))
        #expect(restored == original, "the restored standby equals the master")
        #expect(original.contains("CREATE TABLE public.cold"))
        #expect(try FileDigest.sha256(file: "\(older)/\(cold)").hex == coldSum)
        try await expectVerified(lab)

        // The remaining (older, incremental) backup still restores on its own.
        standby.stop(mode: "fast")
        let copy = try await PGCluster.recovered(
            from: older, like: master, scratch: lab.scratch, archive: lab.completedWals)
        defer { copy.destroy() }
        #expect(
            try await copy.psql("SELECT md5(string_agg(t, ',' ORDER BY g)) FROM cold") == expected)
    }

    /// Over ssh: rsync --link-dest links the unchanged files, the slave's seal counts them (same
    /// inode as in the previous backup) and reuses their checksums, verify passes, and the
    /// incremental backup recovers to the master's data.
    @Test(.enabled(if: SSHD.isAvailable), arguments: TestEnv.pgBinDirs)
    func rsyncLinkDestOverSSH(binDir: String) async throws {
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(
                binDir: binDir, sshd: sshd, slaveExtra: "keep_backups = 1\n")
            defer { pair.destroy() }
            try await pair.setupAndRestart()
            try await pair.master.psql(
                "CREATE TABLE cold WITH (autovacuum_enabled = off) AS "
                    + "SELECT g FROM generate_series(1, 20000) g; "
                    + "CREATE TABLE hot AS SELECT g FROM generate_series(1, 20000) g")
            try await pair.master.psql("VACUUM (FREEZE) cold")  // see the test above
            try await pair.master.psql("CHECKPOINT")
            let cold = try await pair.master.psql("SELECT pg_relation_filepath('cold')")
            let hot = try await pair.master.psql("SELECT pg_relation_filepath('hot')")
            // As in-process: files written within a second of the previous backup's start are
            // sent again (RsyncIncremental), so wait until cold's write is older than that.
            let written = Self.stat("\(pair.master.dataDir)/\(cold)").st_mtim.tv_sec
            try await waitUntil("2 s after the cold table was written") { time(nil) >= written + 2 }
            let remote = "full_backup=\(sshd.user)@\(sshd.host):\(pair.walmgrData)/data.master"
            try await sshBackup(pair, remote)
            try await pair.master.psql("UPDATE hot SET g = g + 1; CHECKPOINT")
            try await sshBackup(pair, remote)
            let newest = "\(pair.walmgrData)/data.master"
            #expect(
                Self.stat("\(newest)/\(cold)").st_ino == Self.stat("\(newest).0/\(cold)").st_ino)
            #expect(Self.stat("\(newest)/\(hot)").st_ino != Self.stat("\(newest).0/\(hot)").st_ino)
            let second = try #require(try await pair.listBackups(pair.masterIni).first)
            #expect((second.reusedFiles ?? 0) > 0 && second.copiedBytes! < second.sizeBytes)
            let verify = try await pair.run([pair.slaveIni, "verify", "--all"])
            #expect(verify.succeeded, "verify: \(verify.output)\(verify.stderrTail)")
            try await pair.switchWAL()
            let query = "SELECT sum(g) FROM cold UNION ALL SELECT sum(g) FROM hot"
            let expected = try await pair.master.psql(query)
            let copy = try await pair.recoverCopy(of: newest)
            defer { copy.destroy() }
            #expect(try await copy.psql(query) == expected)
        }
    }

    func sshBackup(_ pair: WalmgrPair, _ remote: String) async throws {
        let result = try await pair.run(["--set", remote, pair.masterIni, "backup"])
        guard result.succeeded else {
            throw HarnessError("backup failed (\(result.statusText)):\n\(result.stderrTail)")
        }
    }

    /// A backup taken from the standby (slave `backup`) is incremental too: the second one
    /// links the files unchanged since the first and still recovers to the master's data.
    @Test(arguments: TestEnv.pgBinDirs)
    func standbyBackupIsIncremental(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try await lab.master.psql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 500) g")
        try await lab.makeBackup()
        try await lab.restoreStandby()
        let extra =
            "slave_db = host=\(lab.master.socketDir) port=\(lab.standbyPort) dbname=postgres "
            + "user=postgres\nmaster_db = \(lab.master.conninfo)\nkeep_backups = 1\n"
        let ini = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        try TestEnv.writeOwned(lab.slaveIni, ini + extra)
        for _ in 0..<2 {
            let backup = try await lab.walmgr(["backup"])
            try #require(backup.succeeded, "standby backup: \(backup.stderrTail)")
        }
        let newest = lab.fullBackup
        #expect(
            Self.stat("\(newest)/PG_VERSION").st_ino == Self.stat("\(newest).0/PG_VERSION").st_ino)
        let list = try await listBackups(lab)
        #expect(list.first?.takenFrom == "standby" && (list.first?.reusedFiles ?? 0) > 0)
        try await expectVerified(lab)
        try await lab.master.psql("INSERT INTO t SELECT g FROM generate_series(501, 600) g")
        let segment = try await lab.switchWAL()
        try await lab.waitArchived(segment, "the segment with row 600")
        let copy = try await PGCluster.recovered(
            from: newest, like: lab.master, scratch: lab.scratch, archive: lab.completedWals)
        defer { copy.destroy() }
        #expect(try await copy.psql("SELECT count(*), max(id) FROM t") == "600|600")
    }

    static func stat(_ path: String) -> stat {
        var st = Glibc.stat()
        lstat(path, &st)
        return st
    }

    /// `walmgr backup` on the lab's master ini (master_db set on the command line).
    func backup(_ lab: StandbyLab) async throws {
        let command = Command(
            lab.walmgr,
            [
                "--set", "master_db=\(lab.master.conninfo)", "\(lab.scratch)/wal-master.ini",
                "backup",
            ],
            workingDirectory: lab.scratch, user: TestEnv.runAsUser)
        let result = try await TestEnv.runner.run(command, input: .none, timeout: .seconds(180))
        guard result.succeeded else {
            throw HarnessError("backup failed (\(result.statusText)):\n\(result.stderrTail)")
        }
    }

    func listBackups(_ lab: StandbyLab) async throws -> [BackupManifest] {
        let result = try await lab.walmgr(["listbackups", "--json"])
        try #require(result.succeeded, "\(result.stderrTail)")
        return try JSONDecoder().decode([BackupManifest].self, from: Data(result.stdout))
    }

    func expectVerified(_ lab: StandbyLab) async throws {
        let verify = try await lab.walmgr(["verify", "--all"])
        #expect(verify.succeeded, "verify: \(verify.output)\(verify.stderrTail)")
    }

    /// `walmgr backup` saved the master's own config files; the restored standby needs its port.
    func rewriteConfigBackupPort(_ lab: StandbyLab) throws {
        let path = "\(lab.walmgrData)/config.backup/postgresql.conf"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try TestEnv.writeOwned(path, text + "\nport = \(lab.standbyPort)\nhot_standby = on\n")
    }

    /// pg_dump of the postgres database, without the `\restrict KEY` lines (a random key per
    /// run since 18 and the 2025 minor releases).
    func dump(_ cluster: PGCluster) async throws -> String {
        let text = try await TestEnv.run(
            cluster.pgCommand(
                "pg_dump",
                ["-h", cluster.socketDir, "-p", "\(cluster.port)", "-U", "postgres", "postgres"]))
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }
            .joined(separator: "\n")
    }
}
