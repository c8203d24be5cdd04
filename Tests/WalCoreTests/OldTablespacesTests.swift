import Foundation
import Testing

@testable import WalCore

/// With `backup_datadir`, restore keeps the old tablespaces as `<tablespace>.N` next to
/// `<slave_data>.N`: `keep_old_datadirs` bounds them too, a copy a live server uses stays, and
/// the kept data dir links to its own tablespace, not to the restored one.
@Suite struct OldTablespacesTests {
    /// A tree: `pg/main` (+ `.0`, `.1`) linking tablespace 16384 at `ts/16384` (+ `.0`, `.1`),
    /// and staged new copies of both.
    private static func oldTree(_ scratch: TargetGuardTests.Scratch) throws -> (String, String) {
        let data = scratch.slaveData
        let space = "\(scratch.root)/ts/16384"
        for (dir, content) in [
            (data, "old"), ("\(data).0", "0"), ("\(data).1", "1"),
            ("\(data).walmgr-restore", "new"),
        ] {
            try write("\(dir)/PG_VERSION", content)
            try FileManager.default.createDirectory(
                atPath: "\(dir)/pg_tblspc", withIntermediateDirectories: true)
        }
        for (dir, content) in [
            (space, "old"), ("\(space).0", "0"), ("\(space).1", "1"),
            ("\(space).walmgr-restore", "new"),
        ] {
            try write("\(dir)/PG_15_202209061/1/1259", content)
        }
        for dir in [data, "\(data).walmgr-restore"] {
            try FileManager.default.createSymbolicLink(
                atPath: "\(dir)/pg_tblspc/16384", withDestinationPath: space)
        }
        try FileManager.default.createSymbolicLink(
            atPath: "\(data).1/pg_tblspc/16384", withDestinationPath: "\(space).1")
        return (data, space)
    }

    private static func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    private static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    /// keep_old_datadirs = 1: `ts.0` goes; `ts.1` stays because the server running in
    /// `main.1` (this process's pid) links to it; the newest copy `ts.2` stays and `main.2`
    /// links to it.
    @Test func keptTablespacesAreBoundedAndLinkedFromTheKeptDataDir() throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let (data, space) = try Self.oldTree(scratch)
        try "\(getpid())\n\(data).1\n".write(
            toFile: "\(data).1/postmaster.pid", atomically: false, encoding: .utf8)
        var copy = TargetGuardTests.restoreCopy(scratch, destination: data, keepOld: true)
        copy.keepOldCount = 1
        copy.syncTree = { _ in }
        try copy.swap(tablespaceTargets: [space])

        let restored = try String(
            contentsOfFile: "\(space)/PG_15_202209061/1/1259", encoding: .utf8)
        #expect(restored == "new")
        #expect(OldDataDirs.list(data) == ["\(data).1", "\(data).2"], "main.1 runs: kept")
        #expect(OldDataDirs.tablespaceCopies(space) == ["\(space).1", "\(space).2"])
        #expect(!Self.exists("\(space).0"))
        let link = try FileManager.default.destinationOfSymbolicLink(
            atPath: "\(data).2/pg_tblspc/16384")
        #expect(link == "\(space).2", "the kept data dir must not use the restored tablespace")
        let kept = try String(
            contentsOfFile: "\(space).2/PG_15_202209061/1/1259", encoding: .utf8)
        #expect(kept == "old")
    }

    /// ``oldTree(_:)`` with the old data dir's tablespace link spelled through a symlinked
    /// parent (`alias` → `ts`).
    private static func oldTreeLinkedThroughAnAlias(_ scratch: TargetGuardTests.Scratch) throws
        -> (data: String, space: String)
    {
        let (data, space) = try oldTree(scratch)
        try FileManager.default.createSymbolicLink(
            atPath: "\(scratch.root)/alias", withDestinationPath: "\(scratch.root)/ts")
        try FileManager.default.removeItem(atPath: "\(data)/pg_tblspc/16384")
        try FileManager.default.createSymbolicLink(
            atPath: "\(data)/pg_tblspc/16384", withDestinationPath: "\(scratch.root)/alias/16384")
        return (data, space)
    }

    /// backup_datadir off, the old data dir linking the tablespace by another spelling of the
    /// restored target (a symlinked parent): that is the place just restored, not an old
    /// tablespace to remove.
    @Test func oldLinkSpelledOtherwiseDoesNotRemoveTheRestoredTablespace() throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let (data, space) = try Self.oldTreeLinkedThroughAnAlias(scratch)
        var copy = TargetGuardTests.restoreCopy(scratch, destination: data, keepOld: false)
        copy.syncTree = { _ in }
        let old = try copy.swap(tablespaceTargets: [space])
        let restored = try? String(
            contentsOfFile: "\(space)/PG_15_202209061/1/1259", encoding: .utf8)
        #expect(restored == "new")
        #expect(old == ["\(data).walmgr-old", "\(space).walmgr-old"])
    }

    /// backup_datadir on, the same other spelling: the kept data dir is still pointed at its
    /// kept tablespace, not left linked to the restored one.
    @Test func keptDataDirIsRelinkedWhenItsLinkIsSpelledOtherwise() throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let (data, space) = try Self.oldTreeLinkedThroughAnAlias(scratch)
        var copy = TargetGuardTests.restoreCopy(scratch, destination: data, keepOld: true)
        copy.keepOldCount = 5
        copy.syncTree = { _ in }
        try copy.swap(tablespaceTargets: [space])
        let link = try FileManager.default.destinationOfSymbolicLink(
            atPath: "\(data).2/pg_tblspc/16384")
        #expect(link == "\(space).2", "the kept data dir must not use the restored tablespace")
    }
}
