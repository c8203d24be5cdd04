import Foundation
import Testing

@testable import WalCore

/// Point-in-time recovery on real servers: back to just before a DROP TABLE by time, by restore
/// point and by LSN; refusals before anything moves; a target on timeline 2 after a boot.
@Suite(.serialized) struct PITRIntegrationTests {
    /// The table's rows as one string, to compare a recovered copy with the original.
    static let rowsSQL =
        "SELECT count(*) || ':' || md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM keep"

    /// What the drill left behind: the rows before the drop, the time, restore point and LSN.
    struct Drill {
        let before: String
        let dump: String
        let time: String
        let lsn: String
        let xid: String
    }

    /// Backup, then 100 more rows, note the time, a restore point, keep writing, DROP TABLE.
    func drill(_ lab: StandbyLab) async throws -> Drill {
        try await lab.master.psql(
            "CREATE TABLE keep (id int PRIMARY KEY, v text); "
                + "INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(1, 100) g")
        try await lab.makeBackup()
        let stop = try #require(
            BackupCatalog(fullBackup: lab.fullBackup).complete().first.flatMap {
                ISO8601DateFormatter().date(from: $0.manifest.stopTime)
            })
        // A target must lie after the backup's stop time, which is recorded to the second.
        try await waitUntil("a second past the backup's stop") { Date() > stop + 1.2 }
        try await lab.master.psql(
            "INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(101, 200) g")
        let before = try await lab.master.psql(Self.rowsSQL)
        let dump = try await dump(lab.master)
        let time = try await lab.master.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        let point = try await masterWalmgr(lab, ["restore-point", "before drop"])
        try #require(point.succeeded, "restore-point: \(point.stderrTail)")
        let lsn = point.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(LSN(lsn) != nil, "restore-point prints the LSN: \(point.output)")
        try await lab.master.psql("CREATE TABLE later AS SELECT g FROM generate_series(1, 1000) g")
        // Separate -c commands run in one session: the DROP's transaction ID is printed.
        let drop = lab.master.pgCommand(
            "psql",
            [
                "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", lab.master.socketDir, "-p",
                "\(lab.master.port)", "-U", "postgres", "-d", "postgres", "-c", "BEGIN", "-c",
                "SELECT pg_current_xact_id()", "-c", "DROP TABLE keep", "-c", "COMMIT",
            ])
        let xid = try await TestEnv.run(drop).trimmingCharacters(in: .whitespacesAndNewlines)
        try await archiveCurrentWAL(lab.master, into: lab.completedWals)
        return Drill(before: before, dump: dump, time: time, lsn: lsn, xid: xid)
    }

    /// `pg_dump --data-only -t keep`, without the random \restrict key newer pg_dumps write.
    func dump(_ server: PGCluster) async throws -> String {
        let out = try await TestEnv.run(
            server.pgCommand(
                "pg_dump",
                [
                    "-h", server.socketDir, "-p", "\(server.port)", "-U", "postgres", "--data-only",
                    "-t", "keep", "postgres",
                ]))
        return out.split(separator: "\n").filter {
            !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict")
        }.joined(separator: "\n")
    }

    /// Switches WAL on `server` and waits until the segment it ended is in `dir`.
    func archiveCurrentWAL(_ server: PGCluster, into dir: String) async throws {
        let segment = try await server.psql("SELECT pg_walfile_name(pg_switch_wal())")
        try await waitUntil("\(segment) archived") {
            FileManager.default.fileExists(atPath: "\(dir)/\(segment)")
        }
    }

    /// walmgr with the master's ini and master_db pointing at the lab's master.
    func masterWalmgr(_ lab: StandbyLab, _ arguments: [String]) async throws -> ProcessResult {
        let command = Command(
            lab.walmgr,
            ["--set", "master_db=\(lab.master.conninfo)", "\(lab.scratch)/wal-master.ini"]
                + arguments, workingDirectory: lab.scratch, user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(120))
    }

    /// Restores with `arguments`, waits until replay paused at the target (or, with
    /// `--target-action promote`, until promoted), promotes with `boot`, returns the rows.
    /// (Paused before the DROP's commit, the standby still holds its lock: reads would wait.)
    func recover(_ lab: StandbyLab, _ arguments: [String], status: Bool = false) async throws
        -> String
    {
        let restore = try await lab.walmgr(["restore"] + arguments)
        let standby = lab.attachStandby()
        try #require(
            restore.succeeded, "restore \(arguments): \(restore.stderrTail)\n\(standby.logTail())")
        if arguments.contains("promote") {
            try await waitUntil("promoted at the target") {
                try await standby.psql("SELECT pg_is_in_recovery()") == "f"
            }
        } else {
            try await waitUntil("replay paused at the target") {
                try await standby.psql("SELECT pg_get_wal_replay_pause_state()") == "paused"
            }
            #expect(FileManager.default.fileExists(atPath: "\(lab.standbyData)/recovery.signal"))
        }
        if status {
            let report = try await lab.walmgr(["status", "--json"])
            #expect(report.output.contains("paused at the target"), "\(report.output)")
            #expect(report.output.contains("stopped_lsn"), "\(report.output)")
        }
        let boot = try await lab.walmgr(["boot"])
        try #require(boot.succeeded, "boot: \(boot.stderrTail)")
        return try await standby.psql(Self.rowsSQL)
    }

    @Test(arguments: TestEnv.pgBinDirs)
    func recoversToJustBeforeTheDrop(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        defer { lab.destroy() }
        let drill = try await drill(lab)

        #expect(
            try await recover(lab, ["--target-time", drill.time], status: true) == drill.before)
        #expect(try await dump(lab.attachStandby()) == drill.dump, "pg_dump of the table matches")
        let promoted = try await lab.walmgr(["status", "--json"])
        #expect(promoted.output.contains("\"promoted\""), "\(promoted.output)")
        #expect(promoted.output.contains("recovery_target_time"), "\(promoted.output)")

        #expect(try await recover(lab, ["--target-name=before drop"]) == drill.before)
        let auto = try String(
            contentsOfFile: "\(lab.standbyData)/postgresql.auto.conf", encoding: .utf8)
        #expect(!auto.contains("recovery_target_time ="), "one target only:\n\(auto)")
        #expect(auto.components(separatedBy: "recovery_target_name").count == 2, "\(auto)")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.standbyData)/standby.signal"))

        #expect(UInt64(drill.xid) != nil, "the DROP's xid: \(drill.xid)")
        #expect(
            try await recover(lab, ["--target-xid", drill.xid, "--target-exclusive"])
                == drill.before)

        #expect(
            try await recover(lab, ["--target-lsn", drill.lsn, "--target-action", "promote"])
                == drill.before)
        try await timelineTwo(lab, drill: drill)
    }

    /// On the promoted server (timeline 2) write, and recover to a time on timeline 2 from the
    /// timeline-1 backup, timeline 2's history and segments copied into the archive.
    func timelineTwo(_ lab: StandbyLab, drill: Drill) async throws {
        let standby = lab.attachStandby()
        try await standby.psql("INSERT INTO keep VALUES (1001, 'on timeline 2')")
        let rows = try await standby.psql(Self.rowsSQL)
        let time = try await standby.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        try await standby.psql("DELETE FROM keep")
        _ = try await standby.psql("SELECT pg_switch_wal()")
        let wal = "\(lab.standbyData)/pg_wal"
        for name in try FileManager.default.contentsOfDirectory(atPath: wal)
        where name.hasPrefix("00000002") && WALName(name) != nil {
            try FileManager.default.copyItem(
                atPath: "\(wal)/\(name)", toPath: "\(lab.completedWals)/\(name)")
        }
        try await TestEnv.run(Command("chown", ["-R", TestEnv.serverUserName, lab.completedWals]))
        let without = try await lab.walmgr(["restore", "--target-time", time])
        #expect(!without.succeeded, "timeline 1 alone never reaches a time on timeline 2")
        #expect(
            try await recover(lab, ["--target-time", time, "--target-timeline", "latest"]) == rows)
        #expect(rows != drill.before)
    }

    /// A target before the oldest backup, a gap in the archive before a time target, and a
    /// time without zone are refused before anything moves; an LSN target before the gap works.
    @Test(arguments: TestEnv.pgBinDirs)
    func refusesWhatCannotBeReached(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        defer { lab.destroy() }
        try await lab.master.psql(
            "CREATE TABLE keep (id int PRIMARY KEY, v text); INSERT INTO keep VALUES (1, 'a')")
        let early = try await lab.master.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        try await waitUntil("a second past the early time") {
            Date()
                > (ISO8601DateFormatter().date(from: String(early.prefix(19)) + "Z")
                    ?? .distantFuture) + 1.2
        }
        try await lab.makeBackup()
        let stop = try #require(
            BackupCatalog(fullBackup: lab.fullBackup).complete().first.flatMap {
                ISO8601DateFormatter().date(from: $0.manifest.stopTime)
            })
        try await waitUntil("a second past the backup's stop") { Date() > stop + 1.2 }
        try await lab.master.psql("INSERT INTO keep VALUES (2, 'b')")
        let before = try await lab.master.psql(Self.rowsSQL)
        let time = try await lab.master.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        let lsn = try await lab.master.psql("SELECT pg_current_wal_lsn()::text")
        var segments: [String] = []
        for row in 3...5 {
            try await lab.master.psql("INSERT INTO keep VALUES (\(row), 'later')")
            segments.append(
                try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())"))
            try await archiveCurrentWAL(lab.master, into: lab.completedWals)
        }

        let tooEarly = try await lab.walmgr(["restore", "--target-time", early])
        #expect(tooEarly.status == 1)
        #expect(
            tooEarly.stderrTail.contains("no complete backup ends before"), "\(tooEarly.stderrTail)"
        )
        #expect(
            tooEarly.stderrTail.contains("data.master: stopped \(BackupManifest.isoTime(stop))"))

        let noZone = try await lab.walmgr(["restore", "--target-time", "2026-11-30 14:02:00"])
        #expect(
            noZone.status == 64 && noZone.stderrTail.contains("with a zone"), "\(noZone.stderrTail)"
        )

        let listed = try await listed(lab)
        #expect(listed["recoverable_from"] as? String == BackupManifest.isoTime(stop))
        #expect(listed["recoverable_to"] is String && listed["recoverable_gap"] is NSNull)

        let gap = segments[1]
        try FileManager.default.removeItem(atPath: "\(lab.completedWals)/\(gap)")
        #expect(try await self.listed(lab)["recoverable_gap"] as? String == gap)
        let status = try await lab.walmgr(["status"])
        #expect(
            status.status == 1 && status.output.contains("\(gap) is missing"), "\(status.output)")
        let refused = try await lab.walmgr(["restore", "--target-time", time])
        #expect(refused.status == 1)
        #expect(
            refused.stderrTail.contains("WAL segment \(gap) is missing"), "\(refused.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: lab.standbyData), "nothing moved")

        #expect(try await recover(lab, ["--target-lsn", lsn]) == before)

        let hostile = try await masterWalmgr(lab, ["restore-point", "bad\nname"])
        #expect(hostile.status == 64, "\(hostile.stderrTail)")
        let quoted = try await masterWalmgr(lab, ["restore-point", "x'); DROP TABLE keep; --"])
        #expect(quoted.succeeded, "a name is a parameter, never SQL: \(quoted.stderrTail)")
        #expect(try await lab.master.psql("SELECT count(*) FROM keep") == "5")

        let shutdown = try await lab.walmgr(
            ["restore", "--target-lsn", lsn, "--target-action", "shutdown"])
        #expect(shutdown.succeeded, "\(shutdown.stderrTail)")
        try await waitUntil("the server shut down at the target") {
            !FileManager.default.fileExists(atPath: "\(lab.standbyData)/postmaster.pid")
        }
        let stopped = try await lab.walmgr(["status", "--json"])
        #expect(stopped.output.contains("server not running"), "\(stopped.output)")
    }

    /// The newest backup as `listbackups --json` prints it.
    func listed(_ lab: StandbyLab) async throws -> [String: Any] {
        let list = try await lab.walmgr(["listbackups", "--json"])
        let array = try JSONSerialization.jsonObject(with: Data(list.stdout)) as? [[String: Any]]
        return try #require(array?.first, "\(list.output) \(list.stderrTail)")
    }
}
