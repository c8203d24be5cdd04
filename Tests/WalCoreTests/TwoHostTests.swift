import Foundation
import Testing
import WalCore

/// Issue 14: the README's Quick start, run top to bottom on two hosts (own network, HOME,
/// socket dir, hostname and sshd each), with only paths and the bin dir substituted. If the
/// README and walmgr drift apart, this fails.
@Suite struct TwoHostTests {
    static let enabled =
        NetNS.isAvailable && SSHD.isAvailable && !TestEnv.pgBinDirs.isEmpty
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/rsync")

    /// The repository's README.md.
    static func readme() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    }

    /// The parser sees every block, with its place, and joins continuations.
    @Test func quickStartParses() throws {
        let quick = try QuickStart.parse(try Self.readme())
        let places = quick.blocks.map(\.place)
        #expect(places.first == .build)
        #expect(places.contains(.both) && places.contains(.master) && places.contains(.slave))
        let initMaster = try #require(
            quick.blocks.flatMap(\.lines).first { $0.contains("--init-master") })
        #expect(initMaster.contains("--ssh-keygen"))
        #expect(!initMaster.contains("\\"))
        #expect(quick.blocks.contains { $0.appendTo?.hasSuffix("wal-master.ini") == true })
    }

    @Test(.enabled(if: enabled), arguments: TestEnv.pgBinDirs)
    func quickStartOnTwoHosts(binDir: String) async throws {
        let quick = try QuickStart.parse(try Self.readme())
        let lab = try await TwoHostLab(binDir: binDir)
        defer {
            print(
                "two-host Quick start, PostgreSQL \(lab.major), seconds per README step:\n"
                    + lab.timingReport)
            lab.destroy()
        }
        var restores = 0
        for block in quick.blocks where block.place != .build {
            if block.lines.joined().contains("/tmp/master_key.pub") { try lab.copyMasterKey() }
            try await lab.run(block)
            let text = block.lines.joined(separator: "\n")
            if text.contains("wal-slave.ini restore") {
                restores += 1
                try await streamsAndMatches(lab)
            }
            if text.contains("status --json") { try await statusIsJSON(lab, block) }
        }
        #expect(restores == 1)
        try await secondBackupAndRestore(lab, quick)
        try await TwoHostMistakes(lab: lab).runAll()
    }

    /// The standby streams as `replicator` and, after a pgbench load, holds the master's data.
    func streamsAndMatches(_ lab: TwoHostLab) async throws {
        let started = ContinuousClock.now
        defer { lab.record("(suite) streaming as replicator, pgbench, data equal", since: started) }
        try await waitUntil("the standby streams from the master", timeout: .seconds(60)) {
            try await lab.slave.psql("SELECT status FROM pg_stat_wal_receiver") == "streaming"
        }
        #expect(
            try await lab.master.psql("SELECT usename FROM pg_stat_replication") == "replicator")
        let scram =
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'replicator'"
        #expect(try await lab.master.psql(scram) == "t", "the replicator's password is scram")
        try lab.must(try await lab.master.run(["pgbench", "-i", "-q", "-s", "1", "postgres"]))
        try lab.must(
            try await lab.master.run(["pgbench", "-n", "-c", "2", "-t", "200", "postgres"]))
        let lsn = try await lab.master.psql("SELECT pg_current_wal_lsn()")
        try await waitUntil("the standby replays up to \(lsn)", timeout: .seconds(120)) {
            try await lab.slave.psql("SELECT pg_last_wal_replay_lsn() >= '\(lsn)'::pg_lsn") == "t"
        }
        let sql =
            "SELECT (SELECT count(*) || '/' || sum(abalance) FROM pgbench_accounts) || ' ' || "
            + "(SELECT count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history)"
        let want = try await lab.master.psql(sql)
        #expect(try await lab.slave.psql(sql) == want)
    }

    /// `status --json` printed one JSON object (the block already exited 0).
    func statusIsJSON(_ lab: TwoHostLab, _ block: QuickStart.Block) async throws {
        let host = block.place == .slave ? lab.slave : lab.master
        let line = lab.substitute(try #require(block.lines.first { $0.contains("status --json") }))
        let result = try await host.shell(line)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout))
        #expect(object is [String: Any], "\(host.name): \(result.output.prefix(300))")
    }

    /// After boot: a second backup from the master and a restore again, with the README's lines.
    func secondBackupAndRestore(_ lab: TwoHostLab, _ quick: QuickStart) async throws {
        for wanted in ["wal-master.ini backup", "wal-slave.ini restore"] {
            let block = try #require(quick.blocks.first { $0.lines.joined().contains(wanted) })
            var again = block
            again.step = "(suite) again after boot: " + block.step
            try await lab.run(again)
        }
        try await waitUntil("the re-restored standby streams", timeout: .seconds(60)) {
            try await lab.slave.psql("SELECT status FROM pg_stat_wal_receiver") == "streaming"
        }
    }
}
