import Foundation
import Testing

@testable import WalCore

/// Point-in-time recovery and verify on two hosts with the generated configs: the drill of
/// docs/walmgr.md ("The five-minute drill") with each target, and verify of a clean and a
/// damaged backup on the standby host.
@Suite(.serialized) struct TwoHostPITRTests {
    typealias Lab = TwoHostLab

    /// The table's rows as one string.
    static let rowsSQL =
        "SELECT count(*) || ':' || md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM keep"

    /// A backup; 100 more rows; the time and a restore point; a later table; DROP TABLE.
    /// `restore --target-time/--target-name/--target-lsn` on the standby host each stop with
    /// the 200 rows and without the later table, paused at the target.
    @Test(.enabled(if: TwoHostTests.enabled), arguments: TestEnv.pgBinDirs)
    func restoresToEachTargetAndNotBeyond(binDir: String) async throws {
        let lab = try await Lab.prepared(binDir: binDir, through: 5)
        defer { lab.destroy() }
        _ = try await lab.master.psql(
            "CREATE TABLE keep (id int PRIMARY KEY, v text); "
                + "INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(1, 100) g")
        try await lab.mustWalmgr(lab.master, [Lab.masterIni, "backup"])
        try await waitPastStop(lab)
        _ = try await lab.master.psql(
            "INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(101, 200) g")
        let before = try await lab.master.psql(Self.rowsSQL)
        let time = try await lab.master.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        let point = try await lab.mustWalmgr(
            lab.master, [Lab.masterIni, "restore-point", "before-drop"])
        let lsn = point.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(LSN(lsn) != nil, "restore-point prints the LSN: \(point.output)")
        _ = try await lab.master.psql("CREATE TABLE later AS SELECT 1 AS one")
        _ = try await lab.master.psql("DROP TABLE keep")
        try await lab.switchAndWaitArchived()

        let targets = [
            ["--target-time", time], ["--target-name", "before-drop"], ["--target-lsn", lsn],
        ]
        for target in targets {
            try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "restore"] + target)
            try await waitUntil("replay paused at \(target)") {
                try await lab.slave.psql("SELECT pg_get_wal_replay_pause_state()") == "paused"
            }
            #expect(try await lab.slave.psql(Self.rowsSQL) == before, "\(target)")
            #expect(
                try await lab.slave.psql("SELECT to_regclass('later') IS NULL") == "t",
                "\(target) stops before the later table")
        }
        let status = try await lab.walmgr(lab.slave, [Lab.slaveIni, "status"])
        #expect(status.output.contains("paused at the target"), "\(status.output)")
    }

    /// Waits until a target time would lie after the newest backup's stop (recorded to the
    /// second, so restore needs the target a second past it).
    func waitPastStop(_ lab: Lab) async throws {
        let list = try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "listbackups", "--json"])
        let newest = try #require(
            try JSONDecoder().decode([BackupManifest].self, from: Data(list.stdout)).first)
        let stop = try #require(ISO8601DateFormatter().date(from: newest.stopTime))
        try await waitUntil("a second past the backup's stop") { Date() > stop + 1.2 }
    }

    /// verify on the standby host passes on a fresh backup and names the damaged file after one
    /// byte of a table's file in the backup is flipped; on the master (the docs say verify is a
    /// slave command) it refuses and says where to run it.
    @Test(.enabled(if: TwoHostTests.enabled), arguments: TestEnv.pgBinDirs)
    func verifyNamesTheDamagedFile(binDir: String) async throws {
        let lab = try await Lab.prepared(binDir: binDir, through: 5)
        defer { lab.destroy() }
        _ = try await lab.master.psql(
            "CREATE TABLE kept AS SELECT g FROM generate_series(1, 20000) g")
        let relation = try await lab.master.psql("SELECT pg_relation_filepath('kept')")
        try await lab.mustWalmgr(lab.master, [Lab.masterIni, "backup"])
        let clean = try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "verify"])
        #expect(clean.output.contains("data.master: ") && clean.output.contains("OK"))

        let inBackup = "\(Lab.walshipping)/data.master/\(relation)"
        try TwoHostBackupTests.flipByte(in: lab.outside(inBackup, on: lab.slave), at: 8192 + 100)
        let damaged = try await lab.walmgr(lab.slave, [Lab.slaveIni, "verify"])
        #expect(damaged.status == 1, "\(damaged.output)\(damaged.stderrTail)")
        #expect(
            damaged.output.contains("PROBLEM \(inBackup): sha256 expected "),
            "\(damaged.output)\(damaged.stderrTail)")

        let onMaster = try await lab.walmgr(lab.master, [Lab.masterIni, "verify"])
        #expect(
            !onMaster.succeeded && onMaster.stderrTail.contains("verify runs on the slave"),
            "\(onMaster.output)\(onMaster.stderrTail)")
    }
}
