import Foundation
import Testing

@testable import WalCore

/// A backup of more than 2 GiB into a bluestore RGW and its restore onto a standby: the data
/// arrives equal and walmgr's memory stays bounded (parts are streamed, never whole files).
///
/// About 65 s on 2 cores and ~8 GB of scratch disk (table, WAL, bluestore file, restored copy):
/// it runs in `make test`; `WALMGR_TEST_LARGE=0` skips it.
@Suite(
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["WALMGR_TEST_LARGE"] != "0",
        "a 2 GiB backup: skipped with WALMGR_TEST_LARGE=0"),
    .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"))
struct S3LargeBackupTests {
    /// Peak RSS allowed for `backup` and `restore` (4 parts of 16 MiB in flight, plus the rest).
    static let rssLimitKiB = 200 * 1024
    /// ~1 KB rows, 8 to a page: 2.15 M rows make a 2.06 GiB table.
    static let rows = 2_150_000
    static let checkSQL = "SELECT count(*) || ' ' || sum(hashtext(v)) FROM big"

    @Test func twoGiBBackupAndRestoreOnBluestore() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let rgw = try await CephRGW.start(store: .bluestore)
        defer { rgw.stop() }
        // The archive stays in a directory: only the backup's 2 GiB go through RGW.
        let rig = try await S3BackupTests.Rig(
            binDir: binDir, tag: "large", walInS3: false, rgw: rgw)
        defer { rig.destroy() }
        try await rig.lab.master.psql(
            "CREATE TABLE big (id int, v text) WITH (autovacuum_enabled = off);"
                + "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
        // In quarters: each psql call stays well inside the harness's 120 s under a loaded
        // `make test`.
        let quarter = Self.rows / 4
        for first in stride(from: 1, through: Self.rows, by: quarter) {
            try await rig.lab.master.psql(
                "INSERT INTO big SELECT g, repeat(md5(g::text), 30) "
                    + "FROM generate_series(\(first), \(min(Self.rows, first + quarter - 1))) g")
        }
        let bytes = try await rig.lab.master.psql("SELECT pg_relation_size('big')")
        try #require((Int64(bytes) ?? 0) >= 2 << 30, "the table has \(bytes) bytes")
        let expected = try await rig.lab.master.psql(Self.checkSQL)

        let clock = ContinuousClock()
        let started = clock.now
        let backup = try await Self.measured(rig.lab, [rig.masterIni, "backup"])
        let backupTime = clock.now - started
        try #require(backup.result.succeeded, "backup: \(backup.result.stderrTail)")
        #expect(backup.peakKiB < Self.rssLimitKiB, "backup's peak RSS: \(backup.peakKiB) KiB")
        #expect(try rig.uploads().isEmpty, "no multipart upload left behind")
        let names = try await rig.listed()
        try #require(names.count == 1, "\(names)")

        try rig.lab.saveConfig()
        let restoreStart = clock.now
        let restore = try await Self.measured(rig.lab, [rig.lab.slaveIni, "restore"])
        print(
            "S3LargeBackupTests: \(bytes) bytes; backup \(backupTime), peak RSS "
                + "\(backup.peakKiB) KiB; restore \(clock.now - restoreStart), peak RSS "
                + "\(restore.peakKiB) KiB")
        let standby = rig.lab.attachStandby()
        try #require(
            restore.result.succeeded, "restore: \(restore.result.stderrTail)\n\(standby.logTail())")
        #expect(restore.peakKiB < Self.rssLimitKiB, "restore's peak RSS: \(restore.peakKiB) KiB")
        #expect(try await standby.psql(Self.checkSQL) == expected)
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "a")
    }

    /// Runs walmgr as the server's user under `/usr/bin/time`; returns the result and the
    /// process's peak RSS in KiB.
    static func measured(_ lab: StandbyLab, _ arguments: [String]) async throws -> (
        result: ProcessResult, peakKiB: Int
    ) {
        let report = "\(lab.scratch)/rss-\(UUID().uuidString)"
        let result = try await TestEnv.runner.run(
            Command(
                "/usr/bin/time", ["-f", "%M", "-o", report, lab.walmgr] + arguments,
                workingDirectory: lab.scratch, user: TestEnv.runAsUser),
            input: .none, timeout: .seconds(900))
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        let peak = text.split(separator: "\n").last.flatMap { Int($0) } ?? Int.max
        return (result, peak)
    }
}
