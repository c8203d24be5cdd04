import Foundation
import Testing

@testable import WalCore

/// `receive` against real servers: segment boundaries, crash and resume, master restart,
/// synchronous commits, a foreign cluster.
@Suite(.serialized) struct ReceiveIntegrationTests {
    /// pg_switch_wal while streaming: every segment the receiver completes is byte-identical to
    /// the master's pg_wal copy, and the open segment stays a `.partial`.
    @Test(arguments: TestEnv.pgBinDirs)
    func segmentBoundaryMidStream(binDir: String) async throws {
        let lab = try await ReceiveLab(binDir: binDir)
        defer { lab.destroy() }
        try lab.startReceiver()
        try await lab.waitStreaming()
        var names: [String] = []
        for _ in 0..<3 { names.append(try await lab.fillAndSwitch()) }
        for name in names { try await lab.waitCompleted(name) }
        for name in names { #expect(try lab.identicalToMaster(name), "\(name)") }
        let slots = try await lab.master.psql(
            "SELECT slot_type FROM pg_replication_slots WHERE slot_name = '\(ReceiveLab.slot)'")
        #expect(slots == "physical", "the slot is created")
        try await lab.master.psql("INSERT INTO t VALUES (0)")
        let current = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        try await waitUntil(
            "the open segment \(current) is a .partial: "
                + "\((try? FileManager.default.contentsOfDirectory(atPath: lab.partialWals)) ?? [])"
        ) {
            FileManager.default.fileExists(atPath: "\(lab.partialWals)/\(current).partial")
        }
        lab.stopReceiver()
        #expect(lab.log().contains("receiver stopped"), "\(lab.log())")
        let state = try #require(ReceiveState.read(partialWals: lab.partialWals))
        #expect(state.state == "stopped" && state.slot == ReceiveLab.slot)
    }
}
