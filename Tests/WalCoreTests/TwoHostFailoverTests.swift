import Foundation
import Testing

@testable import WalCore

/// The README's "After a failover" on two hosts: the Quick start through the first restore,
/// the master host dies, `boot` promotes the standby, and then the section's blocks, as
/// written, make the old master host the new master's streaming standby.
@Suite(.serialized) struct TwoHostFailoverTests {
    typealias Lab = TwoHostLab

    @Test(.enabled(if: TwoHostTests.enabled), arguments: TestEnv.pgBinDirs)
    func theOldMasterBecomesTheStandby(binDir: String) async throws {
        let lab = try await Lab.prepared(binDir: binDir, through: 7)
        defer { lab.destroy() }
        _ = try await lab.master.psql("CREATE TABLE before_failover AS SELECT 1 AS id")
        try await lab.waitSlaveCaughtUp()
        try await masterDies(lab)
        let boot = try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "boot"])
        #expect(boot.text.contains("archiving is off here"), "\(boot.text)")
        // The environment of a real pair: the new master listens on its network address.
        _ = try await lab.slave.psql("ALTER SYSTEM SET listen_addresses = '*'")
        try await lab.startMasterSSHD()

        let section = try QuickStart.parse(try TwoHostTests.readme(), section: "After a failover")
        #expect(Set(section.blocks.map(\.place)) == [.master, .slave])
        for block in section.blocks {
            if block.lines.joined().contains("/tmp/standby_key.pub") { try copyStandbyKey(lab) }
            try await lab.run(block)
        }

        // The old master host now streams from the new master and holds its writes.
        try await waitUntil("the old master host streams", timeout: .seconds(60)) {
            try await lab.master.psql("SELECT status FROM pg_stat_wal_receiver") == "streaming"
        }
        _ = try await lab.slave.psql("CREATE TABLE after_failover AS SELECT 2 AS id")
        let lsn = try await lab.slave.psql("SELECT pg_switch_wal()")
        try await waitUntil("the new standby replays up to \(lsn)", timeout: .seconds(60)) {
            try await lab.master.psql("SELECT pg_last_wal_replay_lsn() >= '\(lsn)'::pg_lsn") == "t"
        }
        let sql =
            "SELECT (SELECT id FROM before_failover) || ',' || (SELECT id FROM after_failover)"
        #expect(try await lab.master.psql(sql) == "1,2")
        #expect(try await lab.master.psql("SELECT pg_is_in_recovery()") == "t")
        #expect(try await lab.slave.psql("SHOW archive_mode") == "on")
        // The new timeline's history, written while archiving was off, is in the new archive.
        #expect(
            lab.names(in: "\(Lab.walshipping)/logs.complete", on: lab.master).contains {
                $0.hasPrefix("00000002.history")
            })
        // The old master's data dir is kept aside, never used again.
        #expect(lab.names(in: "\(Host.home)/\(lab.major)", on: lab.master).contains("main.0"))
    }

    /// The master host dies: its PostgreSQL is killed (SIGKILL, no shutdown checkpoint).
    func masterDies(_ lab: Lab) async throws {
        for pid in lab.master.postmasterPIDs() {
            TestEnv.terminate(pid, signal: SIGKILL, timeout: .seconds(10))
        }
    }

    /// The section's prose step: copy the new master's public key to the old master host.
    func copyStandbyKey(_ lab: Lab) throws {
        let target = "\(lab.master.homeDir)/tmp/standby_key.pub"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(
            atPath: "\(lab.slave.homeDir)/.ssh/id_ed25519.pub", toPath: target)
        try TestEnv.chownToRunAsUser(target, mode: 0o644)
    }
}
