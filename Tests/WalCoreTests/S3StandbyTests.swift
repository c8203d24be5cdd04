import Foundation
import Testing

@testable import WalCore

/// A master archiving to S3 (archive_command = walmgr xarchive, completed_wals = s3://…) and a
/// standby replaying from the same bucket (restore_command = walmgr xrestore), on a real Ceph
/// RGW, for every PostgreSQL version under test.
@Suite(
    .serialized, .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"), .cephRGW)
struct S3StandbyTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func standbyReplaysFromS3(binDir: String) async throws {
        let credentials = try TestEnv.scratchDir(prefix: "wms3s")
        defer { TestEnv.removeScratch(credentials) }
        let s3 = try await S3Lab(scratch: credentials, tag: "standby")
        let lab = try await StandbyLab(
            binDir: binDir, streaming: false,
            slaveExtra: s3.iniLines() + "logfile = \(credentials)/slave.log\n",
            masterExtra: s3.iniLines() + "logfile = \(credentials)/master.log\n")
        defer { lab.destroy() }
        try TestEnv.chownToRunAsUser(credentials, mode: 0o755)
        var outputs: [ProcessResult] = []
        try await lab.master.psql(
            "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
        // walmgr's own backup: BACKUPLOCK beside PAUSE, the WAL check by HEAD, then the purge
        // (S3PITRTests checks what it removes).
        let masterIni = "\(lab.scratch)/wal-master.ini"
        let ini = try String(contentsOfFile: masterIni, encoding: .utf8)
        try TestEnv.writeOwned(masterIni, ini + "master_db = \(lab.master.conninfo)\n")
        let backup = try await TestEnv.runner.run(
            Command(
                lab.walmgr, [masterIni, "backup"], workingDirectory: lab.scratch,
                user: TestEnv.runAsUser), input: .none, timeout: .seconds(300))
        outputs.append(backup)
        try #require(backup.succeeded, "backup: \(backup.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.walmgrData)/BACKUPLOCK"))
        // The restore uses a backup whose config.backup carries the standby's port.
        try await lab.makeBackup()
        let restore = try await lab.walmgr(["restore"])
        outputs.append(restore)
        let standby = lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)\n\(standby.logTail())")
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "t")
        for value in ["b", "c"] {
            try await lab.master.psql("UPDATE t SET v = '\(value)' WHERE id = 1")
            try await lab.master.psql("SELECT pg_switch_wal()")
            try await waitUntil("the UPDATE to \(value) on the standby") {
                try await standby.psql("SELECT v FROM t WHERE id = 1") == value
            }
        }
        // PAUSE/STOP live in walmgr_data (a bucket holds WAL only); boot promotes.
        let pause = try await lab.walmgr(["pause"])
        #expect(pause.succeeded && pause.output.contains("replay: pause"), "\(pause.stderrTail)")
        #expect(FileManager.default.fileExists(atPath: "\(lab.walmgrData)/PAUSE"))
        let resume = try await lab.walmgr(["continue"])
        #expect(resume.succeeded, "\(resume.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.walmgrData)/PAUSE"))
        outputs += [pause, resume, try await lab.walmgr(["status", "--json"])]
        let boot = try await lab.walmgr(["boot"])
        outputs.append(boot)
        #expect(
            boot.succeeded && boot.output.contains("promoted: timeline 2"),
            "boot: \(boot.output)\(boot.stderrTail)")
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "c")
        let stray = FileManager.default.fileExists(atPath: "\(lab.scratch)/s3:")
        #expect(!stray, "no directory named after the URL")
        let keys = try s3.keys()
        #expect(keys.contains { $0.hasSuffix(".backup") }, "the backup history file: \(keys)")
        #expect(keys.filter { WALName(String($0.dropFirst(4)))?.kind == .segment }.count >= 3)
        let local = try FileManager.default.contentsOfDirectory(atPath: lab.completedWals)
        #expect(local.isEmpty, "nothing went to the local completed_wals: \(local)")
        // Every output, walmgr's logs, PostgreSQL's logs, every file the round trip wrote
        // (data dirs, archive, backups) and RGW's logs: none holds the secret.
        let texts =
            outputs.map { $0.output + $0.stderrTail } + [
                lab.master.logTail(lines: 100_000), standby.logTail(lines: 100_000),
                s3.rgw.allLogs(),
            ]
        #expect(!texts.joined().contains(CephRGW.secretKey), "the secret leaked into an output")
        for log in ["slave.log", "master.log"] {  // written, so the walk below reads them
            let text = try String(contentsOfFile: "\(credentials)/\(log)", encoding: .utf8)
            #expect(!text.isEmpty, "\(log) is empty")
        }
        for dir in [lab.scratch, credentials] {
            let files = try S3Lab.files(containing: CephRGW.secretKey, under: dir)
            #expect(files == ["\(credentials)/s3.credentials"].filter { $0.hasPrefix(dir) })
        }
    }
}
