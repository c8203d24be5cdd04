import Foundation
import Testing

@testable import WalCore

/// `status --json` on real servers: a healthy pair, then archiving broken on purpose.
@Suite(.serialized) struct StatusIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func okFlipsWhenArchivingBreaks(binDir: String) async throws {
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await pair.setupAndRestart()
        try await pair.backup()
        try await pair.switchWAL()

        let (healthy, status) = try await json(pair, pair.masterIni)
        #expect(status == 0, "\(healthy)")
        #expect(healthy["role"] as? String == "master")
        #expect(healthy["ok"] as? Bool == true)
        #expect((healthy["problems"] as? [String])?.isEmpty == true)
        let archiving = try #require(healthy["archiving"] as? [String: Any])
        #expect(archiving["last_archived_wal"] is String)
        #expect(archiving["failing"] as? Bool == false)
        let backups = try #require(healthy["backups"] as? [String: Any])
        #expect(backups["count"] as? Int == 1)
        #expect((healthy["syncdaemon"] as? [String: Any])?["running"] as? Bool == false)

        let (slave, slaveStatus) = try await json(pair, pair.slaveIni)
        #expect(slaveStatus == 0, "\(slave)")
        #expect(slave["role"] as? String == "slave")
        #expect((slave["completed_wals"] as? [String: Any])?["newest_wal"] is String)
        #expect((slave["control"] as? [String: Any])?["paused"] as? Bool == false)

        // walmgr stop makes xarchive fail on purpose: the archiver starts failing.
        #expect(try await pair.run([pair.masterIni, "stop"]).succeeded)
        let before = try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver")
        try await pair.master.psql(
            "CREATE TABLE after_stop AS SELECT 1 AS x; SELECT pg_switch_wal()")
        try await waitUntil("the archiver reports a failure", timeout: .seconds(30)) {
            try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver") != before
        }
        let (broken, brokenStatus) = try await json(pair, pair.masterIni)
        #expect(brokenStatus == 1)
        #expect(broken["ok"] as? Bool == false)
        let problems = (broken["problems"] as? [String]) ?? []
        #expect(problems.contains { $0.contains("paused by walmgr stop") }, "\(problems)")
        #expect(problems.contains { $0.contains("archiving is failing") }, "\(problems)")
        #expect((broken["archiving"] as? [String: Any])?["failing"] as? Bool == true)
        let text = try await pair.run([pair.masterIni, "status"])
        #expect(text.status == 1 && text.output.hasPrefix("master: UNHEALTHY"), "\(text.output)")
        #expect(!text.output.contains("password"))
    }

    /// The slave's walmgr_data owned by root (mode 0700): the master's status names that
    /// ownership and does not claim that the slave has no complete backup.
    @Test(.enabled(if: TestEnv.isRoot)) func rootOwnedSlaveDataIsOwnershipNotNoBackup()
        async throws
    {
        let binDir = try #require(TestEnv.defaultBinDir)
        let user = try #require(TestEnv.runAsUser)
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await pair.setupAndRestart()
        #expect(chown(pair.walmgrData, 0, 0) == 0 && chmod(pair.walmgrData, 0o700) == 0)
        let (master, status) = try await json(pair, pair.masterIni)
        #expect(status == 1)
        let problems = (master["problems"] as? [String]) ?? []
        #expect(
            problems.contains {
                $0.contains("cannot list backups") && $0.contains("not readable by \(user)")
            }, "\(problems)")
        #expect(!problems.contains { $0.contains("no complete backup") }, "\(problems)")
    }

    func json(_ pair: WalmgrPair, _ ini: String) async throws -> ([String: Any], Int32) {
        let result = try await pair.run([ini, "status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout))
        let dict = try #require(object as? [String: Any], "\(result.output) \(result.stderrTail)")
        return (dict, result.status)
    }
}
