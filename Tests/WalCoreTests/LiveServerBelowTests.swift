import Foundation
import Testing

@testable import WalCore

/// A directory that holds a live server's data dir (or a tablespace it uses) further down is no
/// more walmgr's to move or remove than that data dir: `restore SET DST` with DST one level
/// too high, and a walmgr_data that holds the master's data dir on the same host.
@Suite struct LiveServerBelowTests {
    /// A master running in `<root>/srv/main` (a fake postmaster), with `body` run meanwhile.
    private func withMaster(
        _ body: (TargetGuardTests.Scratch, FakePostmaster) async throws -> Void
    ) async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let master = try await FakePostmaster.start(in: "\(scratch.root)/srv/main")
        defer { master.stop() }
        try "15\n".write(
            toFile: "\(master.dataDir)/PG_VERSION", atomically: false, encoding: .utf8)
        try await body(scratch, master)
    }

    @Test func theParentOfALiveDataDirIsRefused() async throws {
        try await withMaster { scratch, master in
            do {
                try scratch.targetGuard.check("\(scratch.root)/srv/", purpose: "restore")
                Issue.record("the live data dir's parent was not refused")
            } catch let refusal as TargetRefusal {
                #expect(refusal.reason == .holdsServer(pid: master.pid, dataDir: master.dataDir))
                #expect(refusal.description.contains("pid \(master.pid)"), "\(refusal)")
                #expect(refusal.description.contains("nothing was changed"), "\(refusal)")
            }
            // A sibling of the data dir, or a dir below it, holds no live server.
            try scratch.targetGuard.check("\(scratch.root)/srv/other", purpose: "restore")
        }
    }

    /// `restore data.master DST` with DST the directory above the master's data dir (meant:
    /// a new dir inside it). Before, restore moved DST aside and removed it with the running
    /// master's data dir in it, and exited 0.
    @Test func restoreIntoTheParentOfALiveDataDirChangesNothing() async throws {
        try await withMaster { scratch, master in
            let backup = "\(scratch.walmgrData)/data.master"
            try IncrementalBackupTests.write("\(backup)/PG_VERSION", "15\n")
            let template = TargetGuardTests.restoreCopy(scratch, destination: scratch.slaveData)
            let copy = RestoreCopy(
                entry: template.entry, destination: "\(scratch.root)/srv", move: false,
                keepOld: false, runner: TestEnv.runner, log: Log(quiet: true),
                targetGuard: scratch.targetGuard)
            await #expect(throws: TargetRefusal.self) {
                try copy.removeOld(try copy.swap(tablespaceTargets: try await copy.prepare()))
            }
            #expect(FileManager.default.fileExists(atPath: "\(master.dataDir)/postmaster.pid"))
        }
    }

    /// cleanup with walmgr_data holding the master's data dir (one host, `walmgr_data` set to
    /// the PostgreSQL version dir). Before, cleanup removed walmgr_data with the live data dir.
    @Test func cleanupOfAWalmgrDataHoldingALiveDataDirRemovesNothing() async throws {
        let lab = try CleanupGuardTests.Lab()
        defer { lab.remove() }
        try lab.make(CleanupGuardTests.walmgrLayout.map { "wd/\($0)" })
        let master = try await FakePostmaster.start(in: "\(lab.root)/wd/main")
        defer { master.stop() }
        let result = try await lab.run(
            ["cleanup", "--yes"],
            ini: "[walmgr]\nwalmgr_data = \(lab.root)/wd\nslave_data = \(lab.root)/standby\n")
        #expect(result.status == 1, "\(result.stderrTail)")
        #expect(result.stderrTail.contains("pid \(master.pid)"), "\(result.stderrTail)")
        #expect(lab.exists("wd/main/postmaster.pid") && lab.exists("wd/logs.complete"))
    }
}
