import Foundation
import Testing

@testable import WalCore

/// An incremental backup links a file from the previous backup when its size and mtime match.
/// That proves the bytes are the same only when the previous backup copied the same file: the
/// master's data dir and the standby's are different files, written at different times with
/// other bytes (hint bits, pages the standby had not flushed yet). With `backup` run on both
/// into one full_backup, only a previous backup taken from the same side is a base.
@Suite struct IncrementalOriginTests {
    /// `root/NAME/base/5/16384` holding `text`, last written at `seconds` (whole seconds, as
    /// ext4 with 128-byte inodes records mtimes; the copy keeps them).
    static func dataDir(_ root: String, _ name: String, _ text: String, seconds: Int) throws {
        let path = "\(root)/\(name)/base/5/16384"
        try IncrementalBackupTests.write(path, text)
        try IncrementalBackupTests.write("\(root)/\(name)/PG_VERSION", "15\n")
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    /// Backs up `root/source` into `root/dir` as a backup taken from `from` does.
    static func backUp(_ root: String, _ source: String, into dir: String, from: String)
        throws -> String
    {
        let base = IncrementalBase.find(
            BackupCatalog(fullBackup: "\(root)/data.master"), systemIdentifier: "1",
            takenFrom: from)
        let copied = try LocalTreeCopy.backup(
            source, from: "\(root)/\(source)", to: "\(root)/\(dir)", excludes: [],
            progress: false, base: base)
        var manifest = VerifyUnitTests.manifest()
        manifest.startTime = BackupManifest.isoTime(Date())
        manifest.takenFrom = from
        manifest.files = copied.entries
        try BackupSeal.seal("\(root)/\(dir)", manifest: manifest)
        return try String(contentsOfFile: "\(root)/\(dir)/base/5/16384", encoding: .utf8)
    }

    /// The standby's copy of a file has the master's size and (whole-second) mtime but other
    /// bytes. Before, the master's next backup linked it and recorded its checksum: the
    /// master's bytes were in no backup, and WAL replay from the new start repairs nothing
    /// older. Now it copies the master's file.
    @Test func aMasterBackupNeverLinksFromAStandbyBackup() throws {
        let root = try TestEnv.scratchDir(prefix: "wmorig")
        defer { TestEnv.removeScratch(root) }
        let then = Int(time(nil)) - 3600
        try Self.dataDir(root, "master", "master's bytes", seconds: then)
        try Self.dataDir(root, "standby", "standby bytes!", seconds: then)
        _ = try Self.backUp(root, "standby", into: "data.master", from: "standby")
        #expect(try Self.backUp(root, "master", into: "next", from: "master") == "master's bytes")
        #expect(IncrementalBackupTests.stat("\(root)/next/base/5/16384").st_nlink == 1)
    }

    /// The same side links as before.
    @Test func aBackupLinksFromOneTakenFromTheSameSide() throws {
        let root = try TestEnv.scratchDir(prefix: "wmorig")
        defer { TestEnv.removeScratch(root) }
        try Self.dataDir(root, "standby", "standby bytes!", seconds: Int(time(nil)) - 3600)
        _ = try Self.backUp(root, "standby", into: "data.master", from: "standby")
        #expect(try Self.backUp(root, "standby", into: "next", from: "standby") == "standby bytes!")
        #expect(IncrementalBackupTests.stat("\(root)/next/base/5/16384").st_nlink == 2)
    }

    /// Over ssh rsync's `--link-dest` (whole-second mtimes) is given only a previous backup
    /// taken from the master, as every backup over ssh is.
    @Test func rsyncLinksOnlyFromAMasterBackup() throws {
        for (from, linked) in [("master", true), ("standby", false)] {
            var manifest = VerifyUnitTests.manifest()
            manifest.takenFrom = from
            let listing = Array(try JSONEncoder().encode([manifest]))
            let previous = try RsyncIncremental.previous(
                listing: listing, fullBackupName: "data.master", systemIdentifier: "1")
            #expect((previous != nil) == linked, "previous backup taken from the \(from)")
        }
    }
}
