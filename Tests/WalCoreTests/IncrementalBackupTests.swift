import Foundation
import Synchronization
import Testing

@testable import WalCore

/// File-level incremental backups without a server: what is linked, what is copied, the seal's
/// reuse of checksums, and `restore --move` on shared files.
@Suite struct IncrementalBackupTests {
    /// A scratch dir with `src` (a "data dir" whose files were last written an hour ago).
    static func scratch() throws -> String {
        let root = try TestEnv.scratchDir(prefix: "wminc")
        for (path, text) in [
            "PG_VERSION": "15\n", "base/5/16384": "old heap", "base/5/1259": "cat",
        ] {
            try write("\(root)/src/\(path)", text, age: 3600)
        }
        return root
    }

    /// data.master and data.master.0 in `scratch`'s walmgr_data sharing `base/5/1259` by hard
    /// link, as an incremental backup and its predecessor do; returns data.master's path.
    @discardableResult
    static func sharingBackups(_ scratch: TargetGuardTests.Scratch) throws -> String {
        let newest = "\(scratch.walmgrData)/data.master"
        let older = "\(scratch.walmgrData)/data.master.0"
        try write("\(older)/base/5/1259", "shared")
        try write("\(newest)/PG_VERSION", "15\n")
        try FileManager.default.createDirectory(
            atPath: "\(newest)/base/5", withIntermediateDirectories: true)
        guard link("\(older)/base/5/1259", "\(newest)/base/5/1259") == 0 else {
            throw HarnessError("link into \(newest): errno \(errno)")
        }
        return newest
    }

    static func write(_ path: String, _ text: String, age: Int = 0) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        guard age > 0 else { return }
        let then = Double(time(nil) - age)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: then)], ofItemAtPath: path)
    }

    static func stat(_ path: String) -> stat {
        var st = Glibc.stat()
        lstat(path, &st)
        return st
    }

    /// Backs `src` up into `dir` like a backup does (copy with checksums, seal, `complete`).
    static func backUp(_ root: String, into dir: String, previous: String?, enabled: Bool = true)
        throws -> BackupManifest
    {
        let base = previous.flatMap {
            IncrementalBase.find(BackupCatalog(fullBackup: $0), enabled: enabled)
        }
        let copied = try LocalTreeCopy.backup(
            "src", from: "\(root)/src", to: dir, excludes: [], progress: false, base: base)
        var manifest = VerifyUnitTests.manifest()
        manifest.startTime = BackupManifest.isoTime(Date())
        manifest.sizeBytes = copied.bytes
        manifest.files = copied.entries
        try BackupSeal.seal(
            dir, manifest: manifest,
            previous: previous.flatMap { IncrementalBase.find(BackupCatalog(fullBackup: $0)) })
        return try #require(BackupCatalog(fullBackup: dir).entry(at: dir)).manifest
    }

    /// An unchanged file is linked from the previous backup (same inode, its checksum reused),
    /// a changed one is copied; the manifest counts what was reused.
    @Test func unchangedFilesAreLinkedChangedOnesCopied() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try Self.backUp(root, into: "\(root)/b1", previous: nil)
        #expect(first.reusedFiles == 0 && first.copiedBytes == first.sizeBytes)
        try Self.write("\(root)/src/base/5/16384", "new heap!", age: 0)
        let second = try Self.backUp(root, into: "\(root)/b2", previous: "\(root)/b1")
        let old = Self.stat("\(root)/b1/base/5/1259")
        let linked = Self.stat("\(root)/b2/base/5/1259")
        #expect(old.st_ino == linked.st_ino && linked.st_nlink == 2)
        let changedOld = Self.stat("\(root)/b1/base/5/16384")
        let changed = Self.stat("\(root)/b2/base/5/16384")
        #expect(changedOld.st_ino != changed.st_ino && changed.st_nlink == 1)
        #expect(
            try String(contentsOfFile: "\(root)/b2/base/5/16384", encoding: .utf8) == "new heap!")
        #expect(second.reusedFiles == 2, "PG_VERSION and 1259")
        #expect(second.reusedBytes == Int64("15\n".count + "cat".count))
        #expect(second.copiedBytes == second.sizeBytes - second.reusedBytes!)
        let entry = try #require(BackupCatalog(fullBackup: "\(root)/b2").entry(at: "\(root)/b2"))
        #expect(BackupVerifier(entry: entry).check().problems == [])
    }

    /// With many files copied on several threads, every unchanged one is still linked (its
    /// checksum reused) and every changed one copied; the counts add up over the workers.
    @Test func manyFilesAreLinkedOrCopiedInParallel() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let names = (0..<90).map { "base/5/\(20000 + $0)" }
        for (i, name) in names.enumerated() {
            try Self.write("\(root)/src/\(name)", String(repeating: "x", count: i * 700), age: 3600)
        }
        _ = try Self.backUp(root, into: "\(root)/b1", previous: nil)
        for (i, name) in names.enumerated() where i % 3 == 0 {
            try Self.write("\(root)/src/\(name)", String(repeating: "y", count: i * 700))
        }
        let second = try Self.backUp(root, into: "\(root)/b2", previous: "\(root)/b1")
        for (i, name) in names.enumerated() {
            let shared =
                Self.stat("\(root)/b1/\(name)").st_ino == Self.stat("\(root)/b2/\(name)").st_ino
            #expect(shared == (i % 3 != 0), "\(name)")
        }
        #expect(second.reusedFiles == 3 + 60, "the scratch's three files and 60 of 90")
        #expect(second.files?.count == 93)
        let entry = try #require(BackupCatalog(fullBackup: "\(root)/b2").entry(at: "\(root)/b2"))
        #expect(BackupVerifier(entry: entry).check().problems == [])
    }

    /// `backup_incremental = off` copies everything; a file written after the previous backup
    /// started (same size and mtime or not) is never linked.
    @Test func offOrRecentlyWrittenMeansCopied() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try Self.backUp(root, into: "\(root)/b1", previous: nil)
        let off = try Self.backUp(root, into: "\(root)/b2", previous: "\(root)/b1", enabled: false)
        #expect(off.reusedFiles == 0)
        let catalog = BackupCatalog(fullBackup: "\(root)/b1")
        #expect(IncrementalBase.find(catalog, systemIdentifier: "1") != nil)
        #expect(
            IncrementalBase.find(catalog, systemIdentifier: "2") == nil,
            "a backup of another cluster (initdb again) is never a base")
        #expect(Self.stat("\(root)/b2/PG_VERSION").st_nlink == 1)

        try Self.write("\(root)/src/PG_VERSION", "16\n", age: 0)
        _ = try Self.backUp(root, into: "\(root)/b3", previous: nil)
        let again = try Self.backUp(root, into: "\(root)/b4", previous: "\(root)/b3")
        #expect(Self.stat("\(root)/b4/PG_VERSION").st_nlink == 1, "written within the last second")
        #expect(again.reusedFiles == 2)
    }

    /// The seal takes a shared inode's checksum from the previous manifest without reading the
    /// file (as after rsync --link-dest): a recorded fake checksum shows it was not recomputed.
    @Test func sealReusesTheChecksumOfASharedInode() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try Self.backUp(root, into: "\(root)/b1", previous: nil)
        let path = "\(root)/b1/\(BackupManifest.fileName)"
        var first = try BackupManifest.decode(
            Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let fake = String(repeating: "ab", count: 32)
        first.files = first.files?.map {
            $0.path == "base/5/1259" ? .init(path: $0.path, size: $0.size, sha256: fake) : $0
        }
        try Durable.replace(try first.encoded(), at: path, mode: 0o600)
        try FileManager.default.createDirectory(
            atPath: "\(root)/b2/base/5", withIntermediateDirectories: true)
        #expect(link("\(root)/b1/base/5/1259", "\(root)/b2/base/5/1259") == 0)
        try Self.write("\(root)/b2/PG_VERSION", "15\n")
        try BackupSeal.seal(
            "\(root)/b2", manifest: VerifyUnitTests.manifest(),
            previous: IncrementalBase.find(BackupCatalog(fullBackup: "\(root)/b1")))
        let sealed = try #require(BackupCatalog(fullBackup: "\(root)/b2").entry(at: "\(root)/b2"))
        #expect(sealed.manifest.files?.first { $0.path == "base/5/1259" }?.sha256 == fake)
        #expect(sealed.manifest.reusedFiles == 1, "PG_VERSION was copied: not the same inode")
    }

    /// `restore --move` of an incremental backup leaves the data dir no inode shared with an
    /// older backup: writing into the restored file does not change the older backup.
    @Test func moveCopiesFilesSharedWithAnOlderBackup() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch.root) }
        let newest = "\(scratch.walmgrData)/data.master"
        let older = "\(scratch.walmgrData)/data.master.0"
        try Self.write("\(older)/base/5/1259", "shared")
        try Self.write("\(newest)/PG_VERSION", "15\n")
        try FileManager.default.createDirectory(
            atPath: "\(newest)/base/5", withIntermediateDirectories: true)
        #expect(link("\(older)/base/5/1259", "\(newest)/base/5/1259") == 0)
        let template = TargetGuardTests.restoreCopy(scratch, destination: scratch.slaveData)
        let copy = RestoreCopy(
            entry: template.entry, destination: scratch.slaveData, move: true, keepOld: false,
            runner: TestEnv.runner, log: Log(quiet: true), targetGuard: scratch.targetGuard)
        _ = try await copy.prepare()
        let restored = "\(copy.staging)/base/5/1259"
        #expect(Self.stat(restored).st_ino != Self.stat("\(older)/base/5/1259").st_ino)
        #expect(Self.stat(restored).st_nlink == 1)
        try "written by the standby".write(toFile: restored, atomically: false, encoding: .utf8)
        #expect(try String(contentsOfFile: "\(older)/base/5/1259", encoding: .utf8) == "shared")
    }

    /// The private copies `--move` makes of shared files are written without an fsync of
    /// their own: they lie in the staged tree, which the swap flushes (syncfs, as every other
    /// copied file) before the rename that puts it in place. The sync hook sees the copy
    /// already there, under the staging name, while the destination still holds the old data.
    @Test func moveSplitCopiesAreFlushedBeforeTheSwap() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch.root) }
        try Self.sharingBackups(scratch)
        try Self.write("\(scratch.slaveData)/PG_VERSION", "old\n")
        var copy = TargetGuardTests.restoreCopy(scratch, destination: scratch.slaveData, move: true)
        let seen = Mutex<[String]>([])
        let destination = scratch.slaveData
        copy.syncTree = { stage in
            let file = "\(stage)/base/5/1259"
            let old = try String(contentsOfFile: "\(destination)/PG_VERSION", encoding: .utf8)
            seen.withLock {
                $0.append("links=\(Self.stat(file).st_nlink) destination=\(old)")
            }
            try Durable.syncFileSystem(stage)
        }
        try await copy.swap(tablespaceTargets: copy.prepare())
        #expect(seen.withLock { $0 } == ["links=1 destination=old\n"])
        #expect(
            try String(contentsOfFile: "\(destination)/base/5/1259", encoding: .utf8) == "shared")
    }

    /// A `restore --move` that stops after moving files (here: the copy of a shared file
    /// fails, as a kill would stop it) leaves a backup missing files. Its manifest says
    /// `consumed` before the first move, so it is no longer a complete backup a rerun would
    /// restore half.
    @Test func interruptedMoveLeavesNoCompleteBackup() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch.root) }
        let newest = try Self.sharingBackups(scratch)
        // A non-empty dir at the split's temp name makes the copy of 1259 fail.
        try Self.write("\(newest)/base/5/1259.walmgr-split/x", "")
        var manifest = VerifyUnitTests.manifest()
        manifest.name = "data.master"
        try Data(manifest.encoded()).write(
            to: URL(fileURLWithPath: "\(newest)/\(BackupManifest.fileName)"))
        let catalog = BackupCatalog(fullBackup: newest)
        let entry = try #require(catalog.entry(at: newest))
        try #require(entry.isComplete)
        let copy = RestoreCopy(
            entry: entry, destination: scratch.slaveData, move: true, keepOld: false,
            runner: TestEnv.runner, log: Log(quiet: true), targetGuard: scratch.targetGuard)
        await #expect(throws: FileError.self) { _ = try await copy.prepare() }
        #expect(!FileManager.default.fileExists(atPath: "\(newest)/PG_VERSION"), "moved")
        #expect(catalog.entry(at: newest)?.manifest.status == "consumed")
        #expect(!catalog.complete().contains { $0.path == newest })
    }

    /// Over ssh rsync gets --link-dest; listbackups shows the bytes copied next to the size.
    @Test func rsyncLinkDestAndListedCopiedBytes() {
        let command = BackupCopy.rsync(
            source: "/pg", destination: .remote(host: "s", path: "/b/data.master.inprogress"),
            ssh: nil, compress: false, excludes: [], linkDest: "/b/data.master")
        let args = command.arguments
        #expect(args.contains("--link-dest=/b/data.master"))
        #expect(args.firstIndex(of: "--link-dest=/b/data.master")! < args.firstIndex(of: "--")!)
        var manifest = VerifyUnitTests.manifest()
        manifest.sizeBytes = 10 << 30
        manifest.copiedBytes = 3 << 20
        let table = ListBackups.table([ListedBackup(manifest: manifest, window: nil)])
        #expect(table.contains("copied") && table.contains("10.0 GiB  3.0 MiB"), "\(table)")
    }
}
