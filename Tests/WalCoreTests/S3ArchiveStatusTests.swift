import Foundation
import Testing

@testable import WalCore

/// The duplicate rule across suffixes and `status`/`check` read from the bucket, against a real
/// Ceph RADOS Gateway.
@Suite(
    .serialized, .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"), .cephRGW)
struct S3ArchiveStatusTests {
    typealias Bench = S3IntegrationTests.Bench

    /// Stored as `.zst`, archived again with compress_method none: compared decompressed, so
    /// the same WAL is "already archived" (nothing added) and another WAL is refused naming both
    /// objects.
    @Test func duplicateUnderAnotherSuffixIsComparedByContent() async throws {
        let bench = try await Bench(tag: "sfx")
        defer { bench.destroy() }
        let zstd = try bench.masterIni("zstd", extra: "compress_method = zstd\n")
        let plain = try bench.masterIni("plain")
        let name = try WALName.validate("000000010000000000000031")
        let first = try bench.segment(name, fill: 1)
        let stored = try await bench.run([zstd, "xarchive", first, name.name])
        #expect(stored.succeeded, "\(stored.stderrTail)")
        let again = try await bench.run([plain, "xarchive", first, name.name])
        #expect(again.succeeded, "\(again.stderrTail)")
        #expect(bench.outputs.text.contains("already archived with identical content"))
        #expect(try bench.lab.keys() == ["wal/\(name.name).zst"])

        let other = try await bench.run([
            plain, "xarchive", try bench.segment(name, fill: 2), name.name,
        ])
        #expect(other.status == 1, "\(other.stderrTail)")
        let bucket = "s3://\(bench.lab.bucket)/wal/\(name.name)"
        #expect(other.stderrTail.contains("\(bucket).zst already holds"), "\(other.stderrTail)")
        #expect(other.stderrTail.contains("\(bucket) was not stored"), "\(other.stderrTail)")
        let lz4 = try bench.masterIni("lz4", extra: "compress_method = lz4\n")
        let viaLZ4 = try await bench.run([
            lz4, "xarchive", try bench.segment(name, fill: 2), name.name,
        ])
        #expect(viaLZ4.status == 1, "\(viaLZ4.stderrTail)")
        #expect(try bench.lab.keys() == ["wal/\(name.name).zst"])
        bench.expectNoSecret()
    }

    /// `status --json` lists the prefix: segment count, the newest segment and its age; `check`
    /// follows the WAL after the newest backup through the bucket and names the gap.
    @Test func statusAndCheckReadTheArchiveFromTheBucket() async throws {
        let bench = try await Bench(tag: "stat")
        defer { bench.destroy() }
        let zstd = try bench.masterIni("zstd", extra: "compress_method = zstd\n")
        for (hex, ini) in [("41", try bench.masterIni("plain")), ("42", zstd), ("44", zstd)] {
            let name = try WALName.validate("0000000100000000000000\(hex)")
            let result = try await bench.run([
                ini, "xarchive", try bench.segment(name, fill: 3), name.name,
            ])
            #expect(result.succeeded, "\(result.stderrTail)")
        }
        let full = "\(bench.scratch)/backups/data.master"
        try writeManifest(full, start: "000000010000000000000041", stop: "000000010000000000000042")
        let slave = try bench.slaveIni("slave", extra: "full_backup = \(full)\n")
        let status = try await bench.run([slave, "status", "--json"])
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any],
            "\(status.output)")
        let archive = try #require(json["completed_wals"] as? [String: Any], "\(status.output)")
        #expect(archive["segments"] as? Int == 3, "\(archive)")
        #expect(archive["newest_wal"] as? String == "000000010000000000000044", "\(archive)")
        #expect((archive["newest_wal_age_seconds"] as? Double).map { $0 < 600 } == true)
        #expect(status.output.contains("000000010000000000000043"), "the gap: \(status.output)")

        let check = try await bench.run([slave, "check"])
        #expect(
            check.output.contains(
                "gap in s3://\(bench.lab.bucket)/wal: 000000010000000000000043 is missing, but "
                    + "000000010000000000000044 exists"), "\(check.output)")
        bench.expectNoSecret()
    }

    /// A complete backup's manifest (no data: status and check only read the manifest).
    func writeManifest(_ dir: String, start: String, stop: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let manifest = BackupManifest(
            name: "data.master", label: "s3 status", status: "complete",
            startTime: BackupManifest.isoTime(Date()), stopTime: BackupManifest.isoTime(Date()),
            startLSN: "0/41000028", stopLSN: "0/42000100", startWAL: start, stopWAL: stop,
            timeline: 1, pgVersion: 150000, systemIdentifier: "", sizeBytes: 0, fileCount: 0,
            tablespaces: [], takenFrom: "master")
        try Data(manifest.encoded()).write(
            to: URL(fileURLWithPath: "\(dir)/\(BackupManifest.fileName)"))
        try TestEnv.chownToRunAsUser((dir as NSString).deletingLastPathComponent, mode: 0o755)
        try TestEnv.chownToRunAsUser(dir, mode: 0o755)
    }
}
