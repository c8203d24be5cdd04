import Testing

@testable import WalCore

/// Config keys, slot names, recovery settings and the decisions around slots and synch-standby.
@Suite struct StreamingUnitTests {
    @Test func slotNameFromJobName() {
        #expect(CommonConfig.slotName(fromJobName: "wal-slave") == "wal_slave")
        #expect(CommonConfig.slotName(fromJobName: "DB1.Standby") == "db1_standby")
        #expect(CommonConfig.slotName(fromJobName: "") == "walmgr")
        #expect(CommonConfig.slotName(fromJobName: String(repeating: "a", count: 80)).count == 63)
        #expect(ReplicationSlots.isValidName("wal_slave"))
        #expect(!ReplicationSlots.isValidName("Wal-Slave"))
        #expect(!ReplicationSlots.isValidName(""))
    }

    @Test func configKeys() throws {
        let slave = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\nuse_replication_slot = yes\n")
        #expect(slave.common.useReplicationSlot)
        #expect(slave.common.replicationSlotName == "wal_slave")
        #expect(slave.common.statusMaxSlotRetainedMB == 1024)
        let named = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\nreplication_slot_name = s1\n")
        #expect(!named.common.useReplicationSlot && named.common.replicationSlotName == "s1")
        let master = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nreplication_user = rep\nstatus_max_slot_retained_mb = 5\n")
        #expect(master.replicationUser == "rep" && master.common.statusMaxSlotRetainedMB == 5)
        let loaded = try ConfigFixture.load("[walmgr]\nmaster_data = /m\nreplication_user = r\n")
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
    }

    @Test func invalidSlotNameNamesKeyAndFile() throws {
        let slave = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\nuse_replication_slot = 1\nreplication_slot_name = A-b\n")
        #expect {
            try ReplicationSlots.configuredName(slave.common)
        } throws: { error in
            "\(error)".contains("replication_slot_name = A-b")
                && "\(error)".contains("wal-slave.ini")
        }
    }

    @Test func primarySlotNameIsRenderedWithConninfoOnly() {
        var inputs = RecoverySettings.Inputs(
            walmgr: "/w", configFile: "/c.ini", primaryConninfo: "host=m", triggerFile: "/t",
            primarySlotName: "wal_slave")
        guard
            case .autoConf(_, let settings) = RecoverySettings.render(
                for: ServerVersion(num: 150000), inputs
            ).output
        else {
            Issue.record("12+ renders auto.conf settings")
            return
        }
        #expect(settings.contains { $0.name == "primary_slot_name" && $0.value == "'wal_slave'" })
        guard
            case .recoveryConf(let text) = RecoverySettings.render(
                for: ServerVersion(num: 110000), inputs
            ).output
        else { return }
        #expect(text.contains("primary_slot_name = 'wal_slave'\n"))
        inputs.primaryConninfo = nil
        let archiveOnly = RecoverySettings.render(for: ServerVersion(num: 150000), inputs)
        if case .autoConf(_, let list) = archiveOnly.output {
            #expect(!list.contains { $0.name == "primary_slot_name" })
        }
    }

    @Test func slotProblems() {
        let big = SlotInfo(
            name: "a", active: false, restartLSN: "0/1000000", retainedBytes: 2 * 1_048_576)
        let lost = SlotInfo(
            name: "b", active: false, restartLSN: nil, retainedBytes: nil, walStatus: "lost")
        let fine = SlotInfo(name: "c", active: true, restartLSN: "0/1", retainedBytes: 100)
        let problems = SlotInfo.problems([big, lost, fine], maxRetainedMB: 1)
        #expect(problems.count == 2)
        #expect(problems[0].contains("a holds back 2.0 MB") && problems[0].contains("no standby"))
        #expect(problems[1].contains("b lost WAL"))
        #expect(fine.summary.contains("active") && big.summary.contains("retains 2.0 MB"))
    }

    @Test func synchStandbyRefusals() throws {
        typealias S = SynchStandby.Sender
        let s1 = [S(name: "s1", state: "streaming", syncState: "async")]
        let first = try #require(try SyncStandbyNames.parse("FIRST 1 (S1)"))
        try SynchStandby.requireConnected(first, senders: s1, current: "")
        let nobody = try #require(try SyncStandbyNames.parse("nobody"))
        #expect {
            try SynchStandby.requireConnected(nobody, senders: s1, current: "s1")
        } throws: { error in
            "\(error)".contains("not connected: nobody") && "\(error)".contains("connected: s1")
                && "\(error)".contains("stays 's1'")
        }
        let star = try #require(try SyncStandbyNames.parse("*"))
        try SynchStandby.requireConnected(star, senders: s1, current: "")
        #expect(throws: WalmgrFailure.self) {
            try SynchStandby.requireConnected(star, senders: [], current: "")
        }
        let two = try #require(try SyncStandbyNames.parse("ANY 2 (s1, *)"))
        #expect(throws: WalmgrFailure.self) {
            try SynchStandby.requireConnected(two, senders: s1, current: "")
        }
        #expect(SynchStandby.sqlLiteral("a'b") == "'a''b'")
    }

    @Test func clientFromConfig() async throws {
        func client(_ config: MasterConfig) async throws -> HBAClient? {
            try await HBAProbe.expectedClient(config, runner: TestEnv.runner)
        }
        let remote = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = postgres@10.0.0.2\n"
                + "primary_conninfo = host=db1 user=rep\n")
        #expect(try await client(remote) == HBAClient(address: "10.0.0.2", user: "rep"))
        let local = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nprimary_conninfo = host=/tmp port=5\n")
        #expect(try await client(local) == HBAClient(address: nil, user: "postgres"))
        let loopback = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nreplication_user = r\n"
                + "primary_conninfo = host=localhost\n")
        #expect(try await client(loopback) == HBAClient(address: "127.0.0.1", user: "r"))
        let none = try ConfigFixture.master("[walmgr]\nmaster_data = /m\n")
        #expect(try await client(none) == nil)
        #expect(HBAProbe.hostPart("[::1]") == "::1")
    }
}
