import Foundation
import Testing

@testable import WalCore

/// pg_hba wiring, a replication slot, synch-standby and the receiver status on real servers:
/// one master and one streaming standby per PostgreSQL version.
@Suite(.serialized) struct StreamingIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func streamingWiring(binDir: String) async throws {
        let lab = try await StreamingLab(binDir: binDir)
        defer { lab.destroy() }
        try await hbaLineIsPrintedThenAddedOnce(lab)

        try await lab.lab.master.psql("CREATE TABLE t (id int PRIMARY KEY)")
        try await lab.lab.makeBackup()
        let standby = try await lab.lab.restoreStandby()
        let auto = try String(
            contentsOfFile: "\(lab.lab.standbyData)/postgresql.auto.conf", encoding: .utf8)
        #expect(auto.contains("primary_slot_name = '\(lab.slot)'"), "\(auto)")
        try await waitUntil("the standby streaming through slot \(lab.slot)") {
            try await lab.master(
                "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s "
                    + "ON s.active_pid = r.pid WHERE r.state = 'streaming' "
                    + "AND s.slot_name = '\(lab.slot)'") == "1"
        }
        let receiver = try ReceiverStatus.query(PGConnection(conninfo: lab.standbyConninfo))
        #expect(receiver.state == "streaming" && receiver.slotName == lab.slot, "\(receiver)")
        #expect(receiver.senderHost == "127.0.0.1" && receiver.receivedLSN != nil)
        #expect(receiver.problems(expectStreaming: true).isEmpty)
        let slaveStatus = try await lab.lab.walmgr(["status"])
        #expect(
            slaveStatus.output.contains("wal_receiver_slot: \(lab.slot)"), "\(slaveStatus.output)")

        try await synchStandby(lab)
        try await slotRetainsWALWhileStandbyIsDown(lab, standby: standby)
    }

    /// setup prints the exact line; setup --hba adds it once (twice run, one line).
    func hbaLineIsPrintedThenAddedOnce(_ lab: StreamingLab) async throws {
        let expected = HBAFile.replicationLine(
            client: HBAClient(address: "127.0.0.1", user: "postgres"), method: "trust")
        let before = try String(contentsOfFile: lab.hbaFile, encoding: .utf8)
        let report = try await lab.setup()
        #expect(report.succeeded, "\(report.stderrTail)")
        #expect(report.stderrTail.contains(expected), "\(report.stderrTail)")
        #expect(report.stderrTail.contains(lab.hbaFile))
        #expect(try String(contentsOfFile: lab.hbaFile, encoding: .utf8) == before)

        for _ in 0..<2 {
            let added = try await lab.setup("--hba")
            #expect(added.succeeded, "\(added.stderrTail)")
        }
        let after = try String(contentsOfFile: lab.hbaFile, encoding: .utf8)
        #expect(after.components(separatedBy: expected).count == 2, "one line:\n\(after)")
        #expect(after.hasSuffix(before), "the old rules follow the new line")
        let again = try await lab.setup()
        #expect(again.stderrTail.contains("may connect for replication"), "\(again.stderrTail)")
        let check = try await lab.walmgr(["check"])
        #expect(check.output.contains("OK   pg_hba replication"), "\(check.output)")
    }

    /// FIRST 1 (s1) makes s1 synchronous; an unconnected name is refused and changes nothing.
    func synchStandby(_ lab: StreamingLab) async throws {
        let set = try await lab.walmgr(["synch-standby", "FIRST 1 (s1)"])
        #expect(set.succeeded, "\(set.stderrTail)")
        #expect(set.output.contains("s1: streaming, sync_state sync"), "\(set.output)")
        try await waitUntil("s1 synchronous") {
            try await lab.master(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'")
                == "sync"
        }
        // A commit returns only because s1 confirms it.
        try await lab.master("INSERT INTO t VALUES (1)")
        let refused = try await lab.walmgr(["synch-standby", "nobody"])
        #expect(refused.status == 1)
        #expect(refused.stderrTail.contains("connected: s1"), "\(refused.stderrTail)")
        #expect(try await lab.master("SHOW synchronous_standby_names") == "FIRST 1 (s1)")
        let off = try await lab.walmgr(["synch-standby", ""])
        #expect(off.succeeded, "\(off.stderrTail)")
        #expect(try await lab.master("SHOW synchronous_standby_names") == "")
    }

    /// With the standby stopped, the slot keeps WAL on the master and status reports it;
    /// cleanup drops the slot.
    func slotRetainsWALWhileStandbyIsDown(_ lab: StreamingLab, standby: PGCluster) async throws {
        standby.stop()
        try await waitUntil("the slot released") {
            try await lab.master(
                "SELECT active FROM pg_replication_slots WHERE slot_name = '\(lab.slot)'") == "f"
        }
        for i in 2...3 {
            try await lab.master("INSERT INTO t VALUES (\(i)); SELECT pg_switch_wal()")
        }
        try await lab.master("CHECKPOINT")
        let db = try PGConnection(conninfo: lab.lab.master.conninfo)
        let slot = try #require(try SlotInfo.query(db).first { $0.name == lab.slot })
        #expect(!slot.active && (slot.retainedBytes ?? 0) > 16 * 1_048_576, "\(slot)")
        let oldest = try await lab.master(
            "SELECT pg_walfile_name(restart_lsn) FROM pg_replication_slots "
                + "WHERE slot_name = '\(lab.slot)'")
        #expect(
            FileManager.default.fileExists(
                atPath: "\(lab.lab.master.dataDir)/pg_wal/\(oldest)"), "retained \(oldest)")
        let problems = SlotInfo.problems([slot], maxRetainedMB: 16)
        #expect(problems.count == 1 && problems[0].contains(lab.slot), "\(problems)")
        #expect(SlotInfo.problems([slot], maxRetainedMB: 1024).isEmpty)
        let status = try await lab.walmgr(["status"])
        #expect(status.status == 1)
        #expect(
            status.output.contains("replication slot \(lab.slot) holds back"), "\(status.output)")

        let cleanup = try await lab.lab.walmgr(["cleanup", "--yes"])
        #expect(cleanup.succeeded, "\(cleanup.stderrTail)")
        #expect(
            try await lab.master(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '\(lab.slot)'")
                == "0")
    }
}
