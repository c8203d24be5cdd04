import Foundation
import Testing

@testable import WalCore

/// restore reads a backup by its path (`data.master`) while a backup taken meanwhile may end:
/// its rotation renames `data.master` to `data.master.0` and puts the new backup under the
/// old name. restore must then stop rather than copy (or, with --move, consume) the new backup
/// as if it were the one it picked.
@Suite struct RestoreRotationTests {
    /// A complete backup in `dir` labelled `label`, whose one data file holds `label`.
    static func backup(_ dir: String, label: String) throws {
        try IncrementalBackupTests.write("\(dir)/PG_VERSION", "15\n")
        try IncrementalBackupTests.write("\(dir)/base/5/16384", "data of \(label)")
        var manifest = VerifyUnitTests.manifest()
        manifest.label = label
        try Data(manifest.encoded()).write(
            to: URL(fileURLWithPath: "\(dir)/\(BackupManifest.fileName)"))
    }

    /// A backup labelled `label` ends: it is put in place by the real rotation.
    static func backupEnds(_ full: String, label: String) async throws {
        let catalog = BackupCatalog(fullBackup: full)
        try backup(catalog.inProgress, label: label)
        let rotation = BackupRotation(catalog: catalog, keep: 5, hook: nil)
        try #require(try await rotation.rotate(runner: TestEnv.runner, log: Log(quiet: true)))
    }

    /// Runs `before`, then the command: before restore's one `cp` in these tests.
    struct RotatingRunner: ProcessRunning {
        let before: @Sendable () async throws -> Void
        func run(_ command: Command, input: ProcessInput, timeout: Duration?) async throws
            -> ProcessResult
        {
            try await before()
            return try await TestEnv.runner.run(command, input: input, timeout: timeout)
        }
    }

    static func copy(
        _ scratch: TargetGuardTests.Scratch, entry: BackupCatalog.Entry, move: Bool,
        runner: any ProcessRunning = TestEnv.runner
    ) -> RestoreCopy {
        RestoreCopy(
            entry: entry, destination: scratch.slaveData, move: move, keepOld: false,
            runner: runner, log: Log(quiet: true), targetGuard: scratch.targetGuard)
    }

    /// A backup that ends while `cp` copies the picked one: cp goes on by path, into the new
    /// backup. Before, restore staged the new backup's files under the picked one's name
    /// (and would have mixed both in a longer copy); now it stops before the swap.
    @Test func aBackupRotatedInDuringTheCopyStopsTheRestore() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let full = "\(scratch.walmgrData)/data.master"
        try Self.backup(full, label: "picked")
        let picked = try #require(BackupCatalog(fullBackup: full).complete().first)
        let copy = Self.copy(
            scratch, entry: picked, move: false,
            runner: RotatingRunner { try await Self.backupEnds(full, label: "newer") })
        await #expect(throws: RestoreCopy.BackupChanged.self) { _ = try await copy.prepare() }
        #expect(
            try String(contentsOfFile: "\(full).0/base/5/16384", encoding: .utf8)
                == "data of picked")
    }

    /// `restore --move` of data.master after a newer backup took that name (it ended while
    /// restore stopped the standby). Before, the move took the newer backup's files, wrote the
    /// picked backup's manifest over the newer one's, and removed data.master: the newest
    /// backup was gone. Now restore refuses before it changes anything.
    @Test func moveOfARotatedBackupTakesNothing() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let full = "\(scratch.walmgrData)/data.master"
        try Self.backup(full, label: "picked")
        let picked = try #require(BackupCatalog(fullBackup: full).complete().first)
        try await Self.backupEnds(full, label: "newer")
        let copy = Self.copy(scratch, entry: picked, move: true)
        await #expect(throws: RestoreCopy.BackupChanged.self) { _ = try await copy.prepare() }
        let catalog = BackupCatalog(fullBackup: full)
        #expect(catalog.complete().map(\.manifest.label) == ["newer", "picked"])
        #expect(
            try String(contentsOfFile: "\(full)/base/5/16384", encoding: .utf8) == "data of newer")
        #expect(!FileManager.default.fileExists(atPath: copy.staging))
    }
}
