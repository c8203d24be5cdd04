import Foundation
import Synchronization
import Testing

@testable import WalCore

/// TargetGuard without a server: `/`, a home directory, ancestors of walmgr's directories and a
/// live postmaster.pid are refused; restore's swap checks again and flushes before its rename.
@Suite struct TargetGuardTests {
    /// A scratch dir with `home/`, `base/walshipping/` and `pg/main/`.
    struct Scratch {
        let root: String
        var home: String { "\(root)/home" }
        var walmgrData: String { "\(root)/base/walshipping" }
        var slaveData: String { "\(root)/pg/main" }

        init() throws {
            root = try TestEnv.scratchDir(prefix: "wmg")
            for dir in [home, walmgrData, slaveData] {
                try FileManager.default.createDirectory(
                    atPath: dir, withIntermediateDirectories: true)
            }
        }

        var targetGuard: TargetGuard {
            TargetGuard(
                keep: [.init(key: "walmgr_data", path: walmgrData)],
                keepAbove: [.init(key: "slave_data", path: slaveData)], homes: [home])
        }

        func remove() { TestEnv.removeScratch(root) }
    }

    @Test func refusesTheRootDirectoryHoweverSpelled() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for path in ["/", "//", "/tmp/..", "\(scratch.root)/../../"] {
            #expect(scratch.targetGuard.placeRefusal(path) == .root, "\(path)")
        }
    }

    @Test func refusesTheHomeDirectoryAndLinksToIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let link = "\(scratch.root)/homelink"
        #expect(symlink(scratch.home, link) == 0)
        for path in [scratch.home, scratch.home + "/", link, "\(scratch.root)/pg/../home"] {
            #expect(scratch.targetGuard.placeRefusal(path) == .home(scratch.home), "\(path)")
        }
        #expect(scratch.targetGuard.placeRefusal("\(scratch.home)/restored") == nil)
        // The running user's home is refused without being told.
        let mine = try #require(UserAccount(uid: geteuid())?.home)
        #expect(throws: TargetRefusal.self) {
            try TargetGuard(keep: []).checkPlace(mine, purpose: "restore")
        }
    }

    @Test func refusesAncestorsOfWhatItMustKeep() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let walmgrData = TargetGuard.Kept(key: "walmgr_data", path: scratch.walmgrData)
        let slaveData = TargetGuard.Kept(key: "slave_data", path: scratch.slaveData)
        let targetGuard = scratch.targetGuard
        #expect(targetGuard.placeRefusal("\(scratch.root)/base") == .holds(walmgrData))
        #expect(targetGuard.placeRefusal("\(scratch.root)/base/") == .holds(walmgrData))
        #expect(targetGuard.placeRefusal(scratch.walmgrData) == .holds(walmgrData))
        #expect(targetGuard.placeRefusal(scratch.root) != nil)
        #expect(targetGuard.placeRefusal("\(scratch.root)/pg") == .holds(slaveData))
        // slave_data itself is what restore replaces; a sibling is fine.
        #expect(targetGuard.placeRefusal(scratch.slaveData) == nil)
        #expect(targetGuard.placeRefusal("\(scratch.root)/pg/other") == nil)
        let link = "\(scratch.root)/baselink"
        #expect(symlink("\(scratch.root)/base", link) == 0)
        #expect(targetGuard.placeRefusal(link + "/") == .holds(walmgrData))
        let error = TargetRefusal(path: link, purpose: "restore", reason: .holds(walmgrData))
        #expect(error.description.contains("holds walmgr_data (\(scratch.walmgrData))"))
        #expect(error.description.contains("nothing was changed"))
    }

    @Test func refusesADataDirWhosePostmasterLives() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = "\(scratch.root)/pg/other"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let pidFile = "\(data)/postmaster.pid"
        try "\(getpid())\n\(data)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        do {
            try scratch.targetGuard.check(data, purpose: "restore")
            Issue.record("a live pid was not refused")
        } catch let error as TargetRefusal {
            #expect(error.reason == .running(pid: getpid(), pidFile: pidFile, dataDir: data))
            #expect(error.description.contains("pid \(getpid())"), "\(error)")
            #expect(error.description.contains("pg_ctl -D \(data) stop"), "\(error)")
        }
        // A stale pid file (no such process) does not stop anything.
        try "\(Int32.max)\n\(data)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        try scratch.targetGuard.check(data, purpose: "restore")
    }

    /// A RestoreCopy of `walmgr_data/data.master` into `destination`.
    static func restoreCopy(
        _ scratch: Scratch, destination: String, tablespaces: [BackupManifest.Tablespace] = [],
        move: Bool = false, keepOld: Bool = false
    ) -> RestoreCopy {
        let manifest = BackupManifest(
            name: "data.master", label: "t", status: "complete", startTime: "", stopTime: "",
            startLSN: "", stopLSN: "", startWAL: "", stopWAL: "", timeline: 1, pgVersion: 150000,
            systemIdentifier: "", sizeBytes: 0, fileCount: 0, tablespaces: tablespaces,
            takenFrom: "master")
        return RestoreCopy(
            entry: .init(path: "\(scratch.walmgrData)/data.master", manifest: manifest),
            destination: destination, move: move, keepOld: keepOld, runner: TestEnv.runner,
            log: Log(quiet: true), targetGuard: scratch.targetGuard)
    }

    /// A RestoreCopy of a one-file backup into `destination`, with a staged tree ready.
    static func stagedCopy(
        _ scratch: Scratch, destination: String, sync: @escaping @Sendable (String) throws -> Void
    ) throws -> RestoreCopy {
        var copy = restoreCopy(scratch, destination: destination)
        copy.syncTree = sync
        try FileManager.default.createDirectory(
            atPath: copy.staging, withIntermediateDirectories: true)
        try "new".write(toFile: "\(copy.staging)/PG_VERSION", atomically: true, encoding: .utf8)
        try "old".write(toFile: "\(destination)/PG_VERSION", atomically: true, encoding: .utf8)
        return copy
    }

    /// Item 10: the staged tree is flushed (syncfs) before the rename that puts it in place.
    /// The sync hook looks at the file system when it is called: the staged tree must still be
    /// under its staging name and the destination must still hold the old data, i.e. no rename
    /// has happened yet. Without the flush the hook is never called.
    @Test func swapFlushesTheStagedTreeBeforeItsRename() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let destination = scratch.slaveData
        let seen = Mutex<[String]>([])
        let copy = try Self.stagedCopy(scratch, destination: destination) { path in
            let current = try String(contentsOfFile: "\(destination)/PG_VERSION", encoding: .utf8)
            let staged = FileManager.default.fileExists(atPath: "\(path)/PG_VERSION")
            seen.withLock { $0.append("\(path) staged=\(staged) destination=\(current)") }
            try Durable.syncFileSystem(path)
        }
        try copy.swap(tablespaceTargets: [])
        #expect(seen.withLock { $0 } == ["\(copy.staging) staged=true destination=old"])
        #expect(try String(contentsOfFile: "\(destination)/PG_VERSION", encoding: .utf8) == "new")
        #expect(!FileManager.default.fileExists(atPath: copy.staging))
    }

    /// A server started in the destination during the copy is found before the first rename.
    @Test func swapRefusesADestinationWhoseServerStartedDuringTheCopy() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let destination = "\(scratch.root)/pg/other"
        try FileManager.default.createDirectory(
            atPath: destination, withIntermediateDirectories: true)
        let copy = try Self.stagedCopy(scratch, destination: destination) { _ in }
        try "\(getpid())\n\(destination)\n".write(
            toFile: "\(destination)/postmaster.pid", atomically: true, encoding: .utf8)
        #expect(throws: TargetRefusal.self) { try copy.swap(tablespaceTargets: []) }
        #expect(try String(contentsOfFile: "\(destination)/PG_VERSION", encoding: .utf8) == "old")
        #expect(FileManager.default.fileExists(atPath: "\(copy.staging)/PG_VERSION"))
    }

    /// A backup with a tablespace in `walmgr_tblspc/16384`, restored to `location`.
    static func tablespaceBackup(_ scratch: Scratch, location: String) throws -> RestoreCopy {
        let backup = "\(scratch.walmgrData)/data.master"
        try FileManager.default.createDirectory(
            atPath: "\(backup)/walmgr_tblspc/16384/PG_15_x", withIntermediateDirectories: true)
        try "15\n".write(toFile: "\(backup)/PG_VERSION", atomically: true, encoding: .utf8)
        try "t".write(
            toFile: "\(backup)/walmgr_tblspc/16384/PG_15_x/1", atomically: true, encoding: .utf8)
        let tablespace = BackupManifest.Tablespace(
            oid: "16384", location: location, path: "walmgr_tblspc/16384")
        return restoreCopy(scratch, destination: scratch.slaveData, tablespaces: [tablespace])
    }

    @Test func restoreCopyPutsATablespaceInPlace() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let location = "\(scratch.root)/ts"
        let copy = try Self.tablespaceBackup(scratch, location: location)
        let targets = try await copy.prepare()
        #expect(targets == [location])
        try copy.swap(tablespaceTargets: targets)
        let link = try FileManager.default.destinationOfSymbolicLink(
            atPath: "\(scratch.slaveData)/pg_tblspc/16384")
        #expect(link == location)
        #expect(FileManager.default.fileExists(atPath: "\(location)/PG_15_x/1"))
        #expect(FileManager.default.fileExists(atPath: "\(scratch.slaveData)/PG_VERSION"))
        #expect(!FileManager.default.fileExists(atPath: "\(location).walmgr-restore"))
    }

    /// A tablespace whose location is the (empty) home directory would replace the home.
    @Test func restoreCopyRefusesATablespaceTargetThatIsHome() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let copy = try Self.tablespaceBackup(scratch, location: scratch.home)
        await #expect(throws: TargetRefusal.self) { _ = try await copy.prepare() }
        #expect(!FileManager.default.fileExists(atPath: copy.staging))
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.home).walmgr-restore"))
    }
}
