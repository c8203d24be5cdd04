import Foundation
import Testing

@testable import WalCore

/// `backup`, `listbackups`, rotation and `restore` with full_backup = s3://… on a real Ceph
/// RGW: the master uploads, the standby downloads, nothing else in between.
@Suite(
    .serialized, .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"), .cephRGW)
struct S3BackupTests {
    /// 5 MiB parts (S3's smallest): the big table's file goes up as a multipart upload.
    static let partSize = ["WALMGR_S3_PART_SIZE": String(5 << 20)]

    /// A master archiving to and backing up into one bucket, and the standby's ini on it.
    struct Rig {
        let s3: S3Lab
        let lab: StandbyLab
        let credentials: String
        let masterIni: String

        /// `walInS3` false keeps the archive in the slave's completed_wals directory; `rgw`
        /// defaults to the suite's.
        init(
            binDir: String, tag: String, keep: Int = 0, walInS3: Bool = true,
            rgw: CephRGW? = nil
        ) async throws {
            credentials = try TestEnv.scratchDir(prefix: "wms3b")
            do {
                s3 = try await S3Lab(scratch: credentials, tag: tag, rgw: rgw)
                var lines = s3.iniLines()
                if !walInS3 {
                    lines = lines.split(separator: "\n").dropFirst().joined(separator: "\n") + "\n"
                }
                let backups = "full_backup = s3://\(s3.bucket)/backups\nkeep_backups = \(keep)\n"
                lab = try await StandbyLab(
                    binDir: binDir, streaming: false, slaveExtra: lines + backups,
                    masterExtra: lines + backups)
            } catch {
                TestEnv.removeScratch(credentials)
                throw error
            }
            masterIni = "\(lab.scratch)/wal-master.ini"
            let ini = try String(contentsOfFile: masterIni, encoding: .utf8)
            try TestEnv.writeOwned(masterIni, ini + "master_db = \(lab.master.conninfo)\n")
        }

        func destroy() {
            lab.destroy()
            TestEnv.removeScratch(credentials)
        }

        /// `walmgr wal-master.ini ARGS` as the server's user, with 5 MiB parts.
        func master(_ arguments: [String]) async throws -> ProcessResult {
            try await TestEnv.runner.run(
                Command(
                    lab.walmgr, [masterIni] + arguments, environment: S3BackupTests.partSize,
                    workingDirectory: lab.scratch, user: TestEnv.runAsUser),
                input: .none, timeout: .seconds(300))
        }

        /// The complete backups `listbackups --json` shows on the master, newest first.
        func listed() async throws -> [String] {
            let result = try await master(["listbackups", "--json"])
            guard result.succeeded else { throw HarnessError("listbackups: \(result.stderrTail)") }
            let items =
                try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [[String: Any]]
            return (items ?? []).compactMap { $0["name"] as? String }
        }

        /// The start both PITR tests share: table t with v = 'a', a backup, v = 'b' at the
        /// returned target LSN, then v = 'c' and a segment switch; returns the backup's result,
        /// the target and the switched segment's name (the test waits where it is archived).
        func backupThenTarget() async throws -> (backup: ProcessResult, lsn: String, wal: String) {
            try await lab.master.psql(
                "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
            let backup = try await master(["backup"])
            try #require(backup.succeeded, "backup: \(backup.stderrTail)")
            try await lab.master.psql("UPDATE t SET v = 'b' WHERE id = 1")
            let lsn = try await lab.master.psql("SELECT pg_current_wal_lsn()")
            try await lab.master.psql("UPDATE t SET v = 'c' WHERE id = 1")
            let wal = try await lab.master.psql("SELECT pg_walfile_name(pg_switch_wal())")
            return (backup, lsn, wal)
        }

        /// Object keys under `backups/`.
        func keys() throws -> [String] { try s3.keys(prefix: "backups/") }

        /// A client of the bucket, with the lab's credentials.
        func client() throws -> S3Client {
            try S3Client(settings: s3.settings(), repository: S3Repository("s3://\(s3.bucket)")!)
        }

        /// Multipart uploads in progress under `backups/`.
        func uploads() throws -> [String] {
            try client().multipartUploads(prefix: "backups/").map(\.key)
        }
    }

    /// A table of about 70 MB: its file is 14 parts of 5 MiB.
    static func fill(_ lab: StandbyLab) async throws {
        try await lab.master.psql(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000000) g;"
                + "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
    }

    static let digestSQL = "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM big"

    @Test(arguments: TestEnv.pgBinDirs)
    func backupListRestoreAndReplay(binDir: String) async throws {
        let rig = try await Rig(binDir: binDir, tag: "bk")
        defer { rig.destroy() }
        try await Self.fill(rig.lab)
        let space = "\(rig.lab.scratch)/space1"
        try FileManager.default.createDirectory(atPath: space, withIntermediateDirectories: false)
        try TestEnv.chownToRunAsUser(space, mode: 0o700)
        try await rig.lab.master.psql("CREATE TABLESPACE space1 LOCATION '\(space)'")
        try await rig.lab.master.psql(
            "CREATE TABLE spaced TABLESPACE space1 AS SELECT g FROM generate_series(1, 5000) g")
        let backup = try await rig.master(["backup"])
        try #require(backup.succeeded, "backup: \(backup.stderrTail)")
        let names = try await rig.listed()
        #expect(names.count == 1 && names[0].hasPrefix("base-"), "\(names)")
        let keys = try rig.keys()
        #expect(keys.contains("backups/\(names[0])/walmgr_manifest.json"), "\(keys.prefix(5))")
        #expect(keys.contains("backups/\(names[0])/data/backup_label"))
        #expect(keys.contains("backups/\(names[0])/data/PG_VERSION"))
        #expect(keys.contains("backups/\(names[0])/data/tablespace_map"))
        #expect(keys.contains { $0.hasPrefix("backups/\(names[0])/data/walmgr_tblspc/") })
        #expect(try rig.uploads().isEmpty, "no multipart upload left behind")
        let check = try await rig.lab.walmgr(["check"])
        #expect(
            check.output.contains("OK   backup: s3://\(rig.s3.bucket)/backups/\(names[0])"),
            "\(check.output)")
        #expect(!check.output.contains("FAIL full_backup"), "\(check.output)")
        let status = try await rig.lab.walmgr(["status", "--json"])
        #expect(status.output.contains(names[0]), "\(status.output)")
        let slaveList = try await rig.lab.walmgr(["listbackups"])
        #expect(slaveList.output.contains(names[0]), "\(slaveList.output)\(slaveList.stderrTail)")
        // The standby's port in the saved config files; then the standby restores from S3.
        try rig.lab.saveConfig()
        let restore = try await rig.lab.walmgr(["restore"])
        let standby = rig.lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)\n\(standby.logTail())")
        #expect(
            restore.stderrTail.contains("each checked against its SHA-256"), "\(restore.stderrTail)"
        )
        #expect(!FileManager.default.fileExists(atPath: "\(rig.lab.standbyData).walmgr-s3"))
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "t")
        let digest = try await rig.lab.master.psql(Self.digestSQL)
        #expect(try await standby.psql(Self.digestSQL) == digest)
        #expect(try await standby.psql("SELECT count(*) FROM spaced") == "5000")
        for value in ["b", "c"] {
            try await rig.lab.master.psql("UPDATE t SET v = '\(value)' WHERE id = 1")
            try await rig.lab.master.psql("SELECT pg_switch_wal()")
            try await waitUntil("the UPDATE to \(value) on the standby") {
                try await standby.psql("SELECT v FROM t WHERE id = 1") == value
            }
        }
        // A named backup into another DST whose parent does not exist yet (a fresh host).
        let fresh = "\(rig.lab.scratch)/fresh/host/data"
        let copy = try await rig.lab.walmgr(["restore", names[0], fresh])
        #expect(copy.succeeded, "\(copy.stderrTail)")
        #expect(FileManager.default.fileExists(atPath: "\(fresh)/global/pg_control"))
        #expect(FileManager.default.fileExists(atPath: "\(fresh)/pg_wal/archive_status"))
        #expect(FileManager.default.fileExists(atPath: "\(fresh)/pg_notify"), "empty dirs too")
        // verify downloads every object again; a replaced object is named, and restore
        // refuses it before the standby is touched.
        let verified = try await rig.lab.walmgr(["verify"])
        #expect(verified.succeeded, "\(verified.output)\(verified.stderrTail)")
        #expect(verified.output.contains("re-read: OK"), "\(verified.output)")
        #expect(verified.output.contains("continuity checked"), "\(verified.output)")
        let client = try S3Client(
            settings: rig.s3.settings(), repository: S3Repository("s3://\(rig.s3.bucket)")!)
        let object = "backups/\(names[0])/data/PG_VERSION"
        #expect(try client.send("PUT", object, body: Array("99\n".utf8)).status == 200)
        let damaged = try await rig.lab.walmgr(["verify"])
        #expect(damaged.status == 1, "\(damaged.output)")
        #expect(
            damaged.output.contains("PROBLEM s3://\(rig.s3.bucket)/\(object): sha256 expected"),
            "\(damaged.output)")
        let refused = try await rig.lab.walmgr(["restore"])
        #expect(
            refused.status == 1 && refused.stderrTail.contains("is damaged"),
            "\(refused.stderrTail)")
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "c", "still running")
        #expect(!FileManager.default.fileExists(atPath: "\(rig.lab.standbyData).walmgr-s3"))
        let logs = [
            check.output, status.output, verified.output, verified.stderrTail, damaged.output,
            refused.stderrTail,
            backup.output, backup.stderrTail, restore.output, restore.stderrTail,
            slaveList.output, rig.lab.master.logTail(lines: 100_000),
            standby.logTail(lines: 100_000), rig.s3.rgw.allLogs(),
        ]
        #expect(!logs.joined().contains(CephRGW.secretKey), "the secret leaked")
    }

    /// Archive and backups in the bucket: the master purges the bucket itself after each
    /// backup, and keeps what the slave's standby (restored from the oldest backup, rotated
    /// out by keep_backups = 0) still needs, as the slave's `xstandbyfloor` says.
    @Test func bucketPurgeKeepsWhatTheSlavesStandbyNeeds() async throws {
        let rig = try await Rig(binDir: try #require(TestEnv.defaultBinDir), tag: "fl")
        defer { rig.destroy() }
        try await rig.lab.master.psql("CREATE TABLE t AS SELECT 1 AS id")
        let first = try await rig.master(["backup"])
        try #require(first.succeeded, "backup: \(first.stderrTail)")
        let oldest = try #require(try await rig.listed().first)
        try rig.lab.saveConfig()
        let restore = try await rig.lab.walmgr(["restore", oldest])
        let standby = rig.lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)\n\(standby.logTail())")
        let label = try String(
            contentsOfFile: "\(rig.lab.standbyData)/backup_label.old", encoding: .utf8)
        let start = try #require(BackupLabel.parse(label).startWAL)
        let floor = try await rig.lab.walmgr(["xstandbyfloor"])
        #expect(floor.output.hasPrefix("wal \(start) the standby in"), "\(floor.output)")
        for _ in 1...2 {
            try await rig.lab.master.psql("INSERT INTO t VALUES (2); SELECT pg_switch_wal()")
        }
        let second = try await rig.master(["backup"])
        try #require(second.succeeded, "backup: \(second.stderrTail)")
        #expect(try await rig.listed() != [oldest], "the oldest backup was rotated out")
        #expect(
            second.stderrTail.contains("from \(start) on: the standby in"), "\(second.stderrTail)")
        #expect(try rig.s3.keys().contains { $0.hasPrefix("wal/\(start)") }, "its start WAL stays")
    }

    /// S3 backups with the archive in a directory: the backup's WAL check goes through the
    /// slave's xwalcheck, and `restore --target-lsn` picks the backup from the bucket.
    @Test func pointInTimeFromAnS3BackupAndADirectoryArchive() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let rig = try await Rig(binDir: binDir, tag: "pitr", walInS3: false)
        defer { rig.destroy() }
        let (backup, lsn, wal) = try await rig.backupThenTarget()
        try await waitUntil("\(wal) in completed_wals") {
            FileManager.default.fileExists(atPath: "\(rig.lab.completedWals)/\(wal)")
        }
        try rig.lab.saveConfig()
        let restore = try await rig.lab.walmgr([
            "restore", "--target-lsn", lsn, "--target-action", "promote",
        ])
        let standby = rig.lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)\n\(standby.logTail())")
        try await waitUntil("promoted at the target") {
            try await standby.psql("SELECT pg_is_in_recovery()") == "f"
        }
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "b")
        #expect(!(backup.stderrTail + restore.stderrTail).contains(CephRGW.secretKey))
    }

    /// kill -9 in the middle of a multipart upload: no backup is visible; the next backup
    /// aborts the stale upload, removes the unfinished prefix and completes; rotation then keeps
    /// the newest backup and keep_backups = 1 older one.
    @Test func killedBackupIsInvisibleNextRunCompletesRotationKeepsNewest() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let rig = try await Rig(binDir: binDir, tag: "kill", keep: 1)
        defer { rig.destroy() }
        try await Self.fill(rig.lab)
        let stderr = "\(rig.lab.scratch)/killed.stderr"
        var argv = ["/usr/bin/env"] + Self.partSize.map { "\($0)=\($1)" }
        argv += [rig.lab.walmgr, rig.masterIni, "backup"]
        if let user = TestEnv.runAsUser {
            argv =
                ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups"] + argv
        }
        // The backup runs in slices of about 10 ms and is stopped (SIGSTOP) while the bucket is
        // listed, so a listing, however slow under load, never lets an upload start and
        // complete unseen. A slice can still be long on a busy machine (the test's own thread
        // waits for a core): a backup that completed unseen is deleted and the step retried.
        var seen = false
        for _ in 1...5 where !seen {
            let process = try TestEnv.spawn(argv, cwd: rig.lab.scratch, stderr: stderr)
            let pid = process.processIdentifier
            while process.isRunning && !seen {
                kill(pid, SIGSTOP)
                try await waitUntil("the backup is stopped") {
                    TestEnv.processState(pid) == "T" || !process.isRunning
                }
                seen = !(try rig.uploads()).isEmpty
                if !seen {
                    kill(pid, SIGCONT)
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            if seen { kill(pid, SIGKILL) }
            try await TestEnv.waitExit(process)
            if !seen { try rig.client().delete(try rig.keys()) }
        }
        try #require(seen, "five backups finished before an upload was seen")
        let stale = try rig.uploads()
        try #require(!stale.isEmpty, "the kill came after the upload")
        #expect(try await rig.listed().isEmpty, "a killed backup is not a backup")
        #expect(try rig.keys().contains { $0.hasSuffix("/data/PG_VERSION") }, "files went up")

        var taken: [String] = []
        var outputs = ""
        for _ in 0..<3 {
            let result = try await rig.master(["backup"])
            outputs += result.output + result.stderrTail
            try #require(result.succeeded, "backup: \(result.stderrTail)")
            taken.append(try #require(try await rig.listed().first))
            if taken.count == 1 {
                #expect(
                    result.stderrTail.contains("aborted the unfinished upload"),
                    "\(result.stderrTail)")
                #expect(result.stderrTail.contains("removed the unfinished backup"))
                #expect(result.stderrTail.contains("taking over the stale backup lock"))
                #expect(try rig.uploads().isEmpty)
            }
        }
        #expect(try await rig.listed() == [taken[2], taken[1]])
        let dirs = Set(try rig.keys().map { $0.split(separator: "/")[1] })
        #expect(dirs == [Substring(taken[2]), Substring(taken[1])], "\(dirs)")
        // A live holder (this test process, on this host) keeps the lock: the backup is refused.
        let client = try S3Client(
            settings: rig.s3.settings(), repository: S3Repository("s3://\(rig.s3.bucket)")!)
        let holder = BackupLock.Holder(
            pid: getpid(), host: BackupLock.hostName, since: BackupManifest.isoTime(Date()))
        let lockKey = "backups/BACKUPLOCK"
        #expect(try client.send("PUT", lockKey, body: Array(holder.rendered.utf8)).status == 200)
        let refused = try await rig.master(["backup"])
        #expect(refused.status == 1, "\(refused.stderrTail)")
        #expect(
            refused.stderrTail.contains(
                "another backup is running: s3://\(rig.s3.bucket)/\(lockKey) is held by pid "
                    + "\(getpid())"), "\(refused.stderrTail)")
        #expect(refused.stderrTail.contains("delete that object"), "\(refused.stderrTail)")
        #expect(try await rig.listed() == [taken[2], taken[1]], "nothing changed")
        outputs += refused.stderrTail
        let killedLog = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
        #expect(!(killedLog + outputs + rig.s3.rgw.allLogs()).contains(CephRGW.secretKey))
    }
}
