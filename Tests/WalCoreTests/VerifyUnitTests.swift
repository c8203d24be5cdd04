import Foundation
import Testing

@testable import WalCore

/// Checksums, backup_manifest and the checks of `verify`, on files made here.
@Suite struct VerifyUnitTests {
    func scratch() throws -> String {
        let root = NSTemporaryDirectory() + "walmgr-verify-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func sha256MatchesKnownDigests() throws {
        #expect(
            FileDigest.sha256(Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            FileDigest.sha256([])
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let big = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try write("\(root)/big", big)
        let file = try FileDigest.sha256(file: "\(root)/big")
        #expect(file.size == Int64(big.count) && file.hex == FileDigest.sha256(big))
    }

    /// The copy's checksums are those of the copied bytes: no second read needed.
    @Test func treeCopyRecordsChecksumsOfWhatItWrote() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write("\(root)/src/base/1/1259", Array(repeating: 7, count: 3 << 20))
        try write("\(root)/src/PG_VERSION", Array("15\n".utf8))
        let copied = try LocalTreeCopy.backup(
            "test", from: "\(root)/src", to: "\(root)/dst", excludes: [], prefix: "",
            progress: false)
        #expect(copied.entries.map(\.path) == ["PG_VERSION", "base/1/1259"])
        for entry in copied.entries {
            let found = try FileDigest.sha256(file: "\(root)/dst/\(entry.path)")
            #expect(found.hex == entry.sha256 && found.size == entry.size)
        }
    }

    @Test func backupManifestChecksumCoversTheTextBeforeItsLine() throws {
        let text = PGBackupManifest.render(
            files: [.init(path: "PG_VERSION", size: 3, modified: 0, sha256: "ab")],
            timeline: 1, startLSN: "0/2000028", endLSN: "0/2000100")
        let string = String(decoding: text, as: UTF8.self)
        #expect(string.hasPrefix("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n"))
        #expect(string.contains("\"Last-Modified\": \"1970-01-01 00:00:00 GMT\""))
        #expect(string.contains("{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\""))
        #expect(PGBackupManifest.checksumProblem(text) == nil)
        #expect(try JSONSerialization.jsonObject(with: Data(text)) is [String: Any])
        var altered = text
        altered[40] ^= 1
        #expect(PGBackupManifest.checksumProblem(altered)?.contains("expected") == true)
        #expect(PGBackupManifest.quoted("a\"b\\c") == "\"a\\\"b\\\\c\"")
    }

    /// The seal fsyncs every file after its syncfs: a write-back error reaches the first
    /// fsync of the file, while syncfs reports it only to the file system's first syncfs,
    /// which another process may have been. A lost write (fsync fails with EIO; a seam, as no
    /// real I/O error can be made here) fails the seal before either manifest: the backup is
    /// never complete.
    @Test func aLostWriteFailsTheSealBeforeAnyManifest() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = "\(root)/data.master"
        try write("\(dir)/PG_VERSION", Array("15\n".utf8))
        try write("\(dir)/base/5/16384", Array(repeating: 1, count: 8192))
        try write("\(dir)/backup_label", Array("START WAL LOCATION: 0/2000028\n".utf8))
        let lost = try #require(Self.sealLosingThirdWrite(dir))
        #expect(
            lost.hasPrefix("could not fsync \(dir)/base/5/16384: Input/output error"), "\(lost)")
        #expect(lost.contains("Earlier backups are untouched"), "\(lost)")
        for name in [BackupManifest.fileName, PGBackupManifest.fileName] {
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/\(name)"))
        }
        // Hard-linked with an earlier backup (an incremental backup reused it): that backup
        // holds the same lost write, and the message says so.
        #expect(link("\(dir)/base/5/16384", "\(root)/earlier-16384") == 0)
        let shared = try #require(Self.sealLosingThirdWrite(dir))
        #expect(shared.contains("hard-linked with an earlier backup, which holds the same lost"))
        var calls = 0
        try BackupSeal.seal(dir, manifest: Self.manifest()) {
            calls += 1; return fsync($0)
        }
        #expect(calls == 3, "each file once")
        #expect(BackupCatalog(fullBackup: dir).entry(at: dir) != nil)
    }

    /// Seals `dir` with the third file's fsync failing (EIO); the error's text, nil if none.
    static func sealLosingThirdWrite(_ dir: String) -> String? {
        var calls = 0
        do {
            try BackupSeal.seal(dir, manifest: manifest()) { fd in
                calls += 1
                guard calls == 3 else { return fsync(fd) }
                errno = EIO
                return -1
            }
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// A sealed backup verifies; a flipped byte, a removed file, an added file and an edited
    /// manifest are each named.
    @Test func sealedBackupVerifiesAndDamageIsNamed() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = "\(root)/data.master"
        try write("\(dir)/PG_VERSION", Array("15\n".utf8))
        try write("\(dir)/base/5/16384", Array(repeating: 1, count: 8192 * 3))
        try write("\(dir)/backup_label", Array("START WAL LOCATION: 0/2000028\n".utf8))
        try write("\(dir)/pg_wal/archive_status/x", [])
        var manifest = Self.manifest()
        // Only one checksum comes from "the copy": the others are hashed by the seal.
        manifest.files = [
            .init(path: "PG_VERSION", size: 3, sha256: FileDigest.sha256(Array("15\n".utf8)))
        ]
        try BackupSeal.seal(dir, manifest: manifest)
        let entry = try #require(BackupCatalog(fullBackup: dir).entry(at: dir))
        #expect(
            entry.manifest.files?.map(\.path) == ["PG_VERSION", "backup_label", "base/5/16384"])
        #expect(BackupVerifier(entry: entry).check().problems == [])

        let relation = "\(dir)/base/5/16384"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: relation)))
        bytes[100] ^= 0xFF
        try write(relation, bytes)
        let flipped = BackupVerifier(entry: entry).check().problems
        #expect(flipped.count == 1 && flipped[0].file == relation)
        #expect(flipped[0].problem.hasPrefix("sha256 expected "))

        try FileManager.default.removeItem(atPath: relation)
        try write("\(dir)/base/5/99999", [1])
        let moved = BackupVerifier(entry: entry).check().problems.map(\.description)
        #expect(moved.contains { $0.hasPrefix("\(relation): missing (expected 24576 bytes") })
        #expect(moved.contains { $0.hasPrefix("\(dir)/base/5/99999: not in the manifest") })

        try FileManager.default.removeItem(atPath: "\(dir)/base/5/99999")
        try write(relation, Array(repeating: 1, count: 8192 * 3))
        let own = "\(dir)/\(BackupManifest.fileName)"
        var json = Array(try Data(contentsOf: URL(fileURLWithPath: own)))
        json.append(10)
        try write(own, json)
        let edited = BackupVerifier(entry: entry).check().problems
        #expect(edited.map(\.file) == [own])
    }

    @Test func backupWithoutChecksumsIsAProblem() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let entry = BackupCatalog.Entry(path: root, manifest: Self.manifest())
        let problems = BackupVerifier(entry: entry).check().problems
        #expect(problems.count == 1 && problems[0].problem.contains("records no checksums"))
    }

    /// SET, --all or the newest; both at once is a usage error, an unknown SET names the others.
    @Test func pickChoosesTheBackupsToCheck() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["data.master", "data.master.0"] {
            var manifest = Self.manifest()
            manifest.name = name
            try write("\(root)/\(name)/\(BackupManifest.fileName)", try manifest.encoded())
        }
        let catalog = BackupCatalog(fullBackup: "\(root)/data.master")
        #expect(
            try Verify.pick(catalog, name: nil, all: false).map(\.manifest.name) == ["data.master"])
        #expect(try Verify.pick(catalog, name: nil, all: true).count == 2)
        #expect(try Verify.pick(catalog, name: "data.master.0", all: false).count == 1)
        #expect(throws: WalmgrFailure.self) {
            try Verify.pick(catalog, name: "data.master", all: true)
        }
        #expect(throws: StandbyError.self) { try Verify.pick(catalog, name: "nope", all: false) }
    }

    static func manifest() -> BackupManifest {
        BackupManifest(
            name: "data.master", label: "walmgr test", status: "complete",
            startTime: "2026-11-30T00:00:00Z", stopTime: "2026-11-30T00:00:01Z",
            startLSN: "0/2000028", stopLSN: "0/2000100", startWAL: "000000010000000000000002",
            stopWAL: "000000010000000000000002", timeline: 1, pgVersion: 150_000,
            systemIdentifier: "1", sizeBytes: 0, fileCount: 0, tablespaces: [], takenFrom: "master")
    }
}
