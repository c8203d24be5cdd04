import Foundation
import Testing

@testable import WalCore

/// The built walmgr's cleanup and restore against directories that are not walmgr's to remove
/// (issue 15 items 1 and 2). No server: the refusals come before any PostgreSQL is needed.
/// walmgr runs as the test's user with `HOME` pointing at a fake home in the scratch dir.
@Suite struct CleanupGuardTests {
    struct Lab {
        let root: String
        let walmgr: String
        var ini: String { "\(root)/wal-slave.ini" }

        init() throws {
            root = try TestEnv.scratchDir(prefix: "wmc")
            walmgr = try TestEnv.walmgrBinary(in: root)
        }

        func remove() { TestEnv.removeScratch(root) }

        /// Creates files (with parent dirs), relative to the scratch dir.
        func make(_ files: [String]) throws {
            for file in files {
                let path = "\(root)/\(file)"
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent,
                    withIntermediateDirectories: true)
                try "x".write(toFile: path, atomically: true, encoding: .utf8)
            }
        }

        func exists(_ file: String) -> Bool {
            FileManager.default.fileExists(atPath: "\(root)/\(file)")
        }

        /// Writes the slave ini and runs walmgr with it, `HOME` set to `<scratch>/home`.
        func run(_ arguments: [String], ini text: String) async throws -> ProcessResult {
            try text.write(toFile: ini, atomically: true, encoding: .utf8)
            let command = Command(
                walmgr, [ini] + arguments, environment: ["HOME": "\(root)/home"],
                workingDirectory: root)
            return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(60))
        }
    }

    static let walmgrLayout = [
        "logs.complete/000000010000000000000001", "logs.partial/000000010000000000000002",
        "data.master/backup_label", "data.master.0/walmgr_manifest.json",
        "config.backup/postgresql.conf", "config.restored",
    ]

    /// walmgr_data = the home dir: the home, its .ssh and a data dir in it stay; walmgr's own
    /// entries (and an old data dir `<slave_data>.0`) go.
    @Test func cleanupOfAHomeWalmgrDataRemovesOnlyWalmgrsEntries() async throws {
        let lab = try Lab()
        defer { lab.remove() }
        let foreign = ["home/.ssh/authorized_keys", "home/pgdata/PG_VERSION", "home/notes.txt"]
        try lab.make(foreign + Self.walmgrLayout.map { "home/\($0)" })
        try lab.make(["standby/PG_VERSION", "standby.0/PG_VERSION", "standby.1/photo.jpg"])
        let result = try await lab.run(
            ["cleanup", "--yes"],
            ini: "[walmgr]\nwalmgr_data = \(lab.root)/home\nslave_data = \(lab.root)/standby\n")
        #expect(result.succeeded, "\(result.stderrTail)")
        #expect(result.stderrTail.contains("it is the home directory"), "\(result.stderrTail)")
        for file in foreign + ["standby/PG_VERSION", "standby.1/photo.jpg"] {
            #expect(lab.exists(file), "\(file) was removed")
        }
        for entry in Self.walmgrLayout + ["standby.0"] {
            let path = entry.hasPrefix("standby") ? entry : "home/\(entry)"
            #expect(!lab.exists(path), "\(path) is still there")
        }
    }

    /// A walmgr_data that holds none of walmgr's entries is refused and nothing is removed.
    @Test func cleanupRefusesAnUnrecognisedDirectory() async throws {
        let lab = try Lab()
        defer { lab.remove() }
        try lab.make(["stuff/photos/a.jpg", "stuff/notes.txt", "standby.0/PG_VERSION"])
        let result = try await lab.run(
            ["cleanup", "--yes"],
            ini: "[walmgr]\nwalmgr_data = \(lab.root)/stuff\nslave_data = \(lab.root)/standby\n")
        #expect(result.status == 1)
        let message = result.stderrTail
        #expect(message.contains("refusing to move or remove \(lab.root)/stuff"), "\(message)")
        #expect(message.contains("as walmgr_data it should hold walmgr's logs.complete"))
        #expect(message.contains("nothing was changed"), "\(message)")
        for file in ["stuff/photos/a.jpg", "stuff/notes.txt", "standby.0/PG_VERSION"] {
            #expect(lab.exists(file), "\(file) was removed")
        }
    }

    /// completed_wals set to a directory that holds slave_data is refused.
    @Test func cleanupRefusesAnAncestorOfSlaveData() async throws {
        let lab = try Lab()
        defer { lab.remove() }
        try lab.make(["srv/000000010000000000000001", "srv/main/PG_VERSION"])
        let result = try await lab.run(
            ["cleanup", "--yes"],
            ini: "[walmgr]\ncompleted_wals = \(lab.root)/srv\nslave_data = \(lab.root)/srv/main\n")
        #expect(result.status == 1)
        #expect(result.stderrTail.contains("holds slave_data"), "\(result.stderrTail)")
        #expect(lab.exists("srv/main/PG_VERSION") && lab.exists("srv/000000010000000000000001"))
    }

    /// `restore SET DST` with DST above walmgr_data is refused before anything is copied.
    @Test func restoreRefusesADestinationAboveWalmgrData() async throws {
        let lab = try Lab()
        defer { lab.remove() }
        try lab.make([
            "base/walshipping/config.backup/postgresql.conf", "base/keep.txt", "home/.ssh/id",
        ])
        let backup = "\(lab.root)/base/walshipping/data.master"
        try lab.make(["base/walshipping/data.master/base/1/1259"])
        try "15\n".write(toFile: "\(backup)/PG_VERSION", atomically: true, encoding: .utf8)
        let manifest = BackupManifest(
            name: "data.master", label: "t", status: "complete", startTime: "", stopTime: "",
            startLSN: "", stopLSN: "", startWAL: "000000010000000000000002", stopWAL: "",
            timeline: 1, pgVersion: 150000, systemIdentifier: "", sizeBytes: 0, fileCount: 0,
            tablespaces: [], takenFrom: "master")
        try Data(manifest.encoded()).write(
            to: URL(fileURLWithPath: "\(backup)/\(BackupManifest.fileName)"))
        let ini =
            "[walmgr]\nwalmgr_data = \(lab.root)/base/walshipping\n"
            + "slave_data = \(lab.root)/standby\nbackup_datadir = no\n"
        for destination in ["\(lab.root)/base", "\(lab.root)/base/", "\(lab.root)/home"] {
            let result = try await lab.run(["restore", "data.master", destination], ini: ini)
            #expect(result.status == 1, "\(destination): \(result.stderrTail)")
            #expect(result.stderrTail.contains("nothing was changed"), "\(result.stderrTail)")
        }
        #expect(lab.exists("base/keep.txt") && lab.exists("home/.ssh/id"))
        #expect(lab.exists("base/walshipping/data.master/PG_VERSION"))
        #expect(!lab.exists("base.walmgr-restore") && !lab.exists("base.0"))
    }
}
