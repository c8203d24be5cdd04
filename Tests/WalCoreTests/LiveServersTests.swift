import Foundation
import Testing

@testable import WalCore

/// A directory a live server on this host uses as a tablespace (the master's, next to the
/// standby) is never restore's to move or remove, even when the standby's own pg_tblspc link
/// points there (an earlier restore let PostgreSQL relink it from the master's tablespace_map).
@Suite struct LiveServersTests {
    /// The scratch tree, a "master" running in `master/` whose pg_tblspc/16384 links to
    /// `space1`, and the standby's data dir linking there too.
    private func withSharedTablespace(
        _ body: (TargetGuardTests.Scratch, FakePostmaster, String) async throws -> Void
    ) async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let space = "\(scratch.root)/space1"
        try FileManager.default.createDirectory(
            atPath: "\(space)/PG_15_202209061", withIntermediateDirectories: true)
        let master = try await FakePostmaster.start(in: "\(scratch.root)/master")
        defer { master.stop() }
        for dir in [master.dataDir, scratch.slaveData] {
            try FileManager.default.createDirectory(
                atPath: "\(dir)/pg_tblspc", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: "\(dir)/pg_tblspc/16384", withDestinationPath: space)
        }
        try "15\n".write(
            toFile: "\(scratch.slaveData)/PG_VERSION", atomically: false, encoding: .utf8)
        try await body(scratch, master, space)
    }

    @Test func aLiveServersTablespaceIsRefusedAndNotRestoredOver() async throws {
        try await withSharedTablespace { scratch, master, space in
            #expect(LiveServers.all().contains { $0.pid == master.pid })
            #expect(LiveServers.usingTablespace(space)?.dataDir == master.dataDir)
            do {
                try scratch.targetGuard.check(space, purpose: "restore")
                Issue.record("the master's tablespace was not refused")
            } catch let refusal as TargetRefusal {
                #expect(refusal.reason == .tablespace(pid: master.pid, dataDir: master.dataDir))
            }
            let tablespace = BackupManifest.Tablespace(
                oid: "16384", location: space, path: "walmgr_tblspc/16384")
            let copy = TargetGuardTests.restoreCopy(
                scratch, destination: scratch.slaveData, tablespaces: [tablespace])
            #expect(copy.tablespaceTarget(tablespace) == "\(scratch.slaveData)_tblspc/16384")
        }
    }

    /// Without backup_datadir the swap removes the old standby's tablespaces, but not one the
    /// master uses.
    @Test func swapLeavesALiveServersTablespaceInPlace() async throws {
        try await withSharedTablespace { scratch, _, space in
            let copy = try TargetGuardTests.stagedCopy(scratch, destination: scratch.slaveData) {
                _ in
            }
            try copy.swap(tablespaceTargets: [])
            #expect(FileManager.default.fileExists(atPath: "\(space)/PG_15_202209061"))
            #expect(
                try String(
                    contentsOfFile: "\(scratch.slaveData)/PG_VERSION", encoding: .utf8) == "new")
        }
    }
}
