import Foundation
import Testing

@testable import WalCore

/// PITR, the recoverable window and WAL purge with completed_wals and full_backup in a real
/// Ceph RGW bucket: the S3 archive is read through one listing, as a directory would be.
@Suite(
    .serialized, .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"), .cephRGW)
struct S3PITRTests {
    typealias Rig = S3BackupTests.Rig

    /// `listbackups --json` on the slave, newest first.
    static func listed(_ rig: Rig) async throws -> [[String: Any]] {
        let result = try await rig.lab.walmgr(["listbackups", "--json"])
        guard result.succeeded else { throw HarnessError("listbackups: \(result.stderrTail)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [[String: Any]] ?? []
    }

    /// The WAL names (no suffix) in the bucket's archive, with their keys.
    static func archived(_ rig: Rig) throws -> [String: String] {
        var names: [String: String] = [:]
        for key in try rig.s3.keys() {
            let file = String(key.split(separator: "/").last ?? "")
            if let wal = WALPurge.walName(stored: file) { names[wal.name] = key }
        }
        return names
    }

    /// Backups and WAL in S3: the window is known, `restore --target-lsn` reaches the target
    /// and promotes; with a segment gone from the bucket restore names it and changes nothing.
    @Test func targetLSNFromTheBucketAndAMissingSegment() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let rig = try await Rig(binDir: binDir, tag: "s3pitr")
        defer { rig.destroy() }
        let (_, lsn, wal) = try await rig.backupThenTarget()
        try await waitUntil("\(wal) in the bucket") { try Self.archived(rig)[wal] != nil }

        let window = try #require(try await Self.listed(rig).first)
        #expect(window["recoverable_from"] is String, "\(window)")
        #expect(window["recoverable_to"] is String && window["recoverable_gap"] is NSNull)

        try rig.lab.saveConfig()
        let target = ["restore", "--target-lsn", lsn, "--target-action", "promote"]
        let restore = try await rig.lab.walmgr(target)
        let standby = rig.lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)\n\(standby.logTail())")
        #expect(restore.stderrTail.contains("the archive holds every segment"))
        try await waitUntil("promoted at the target") {
            try await standby.psql("SELECT pg_is_in_recovery()") == "f"
        }
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "b")

        let verified = try await rig.lab.walmgr(["verify"])
        #expect(verified.succeeded, "\(verified.output)\(verified.stderrTail)")
        #expect(verified.output.contains("continuity checked"), "\(verified.output)")
        let start = try #require(window["start_wal"] as? String)
        let key = try #require(try Self.archived(rig)[start], "\(start) in the bucket")
        let client = try S3Client(
            settings: rig.s3.settings(), repository: S3Repository("s3://\(rig.s3.bucket)")!)
        try client.delete([key])
        let refused = try await rig.lab.walmgr(target)
        #expect(refused.status == 1, "\(refused.stderrTail)")
        #expect(
            refused.stderrTail.contains(
                "WAL segment \(start) is missing from s3://\(rig.s3.bucket)/wal"),
            "\(refused.stderrTail)")
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "f", "nothing moved")
        let broken = try await rig.lab.walmgr(["verify"])
        #expect(broken.status == 1, "\(broken.output)")
        #expect(
            broken.output.contains("PROBLEM s3://\(rig.s3.bucket)/wal/\(start)"), "\(broken.output)"
        )
        #expect(try await standby.psql("SELECT v FROM t WHERE id = 1") == "b")
        #expect(!(restore.stderrTail + refused.stderrTail).contains(CephRGW.secretKey))
    }

    /// keep_backups = 0: the second backup rotates the first away and the WAL only the first
    /// needed goes, from the bucket or from the slave's directory; the kept backup's WAL stays
    /// and a restore of it replays to the newest change.
    @Test(arguments: [true, false])
    func purgeAfterRotationKeepsWhatTheOldestBackupNeeds(walInS3: Bool) async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let rig = try await Rig(binDir: binDir, tag: walInS3 ? "purge" : "purged", walInS3: walInS3)
        defer { rig.destroy() }
        func archived() throws -> Set<String> {
            if walInS3 { return Set(try Self.archived(rig).keys) }
            return Set(
                try FileManager.default.contentsOfDirectory(atPath: rig.lab.completedWals)
                    .compactMap { WALPurge.walName(stored: $0)?.name })
        }
        try await rig.lab.master.psql(
            "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
        let first = try await rig.master(["backup"])
        try #require(first.succeeded, "backup: \(first.stderrTail)")
        let oldStart = try #require(try await Self.listed(rig).first?["start_wal"] as? String)
        for _ in 0..<2 {
            try await rig.lab.master.psql("INSERT INTO t SELECT max(id) + 1, 'x' FROM t")
            try await rig.lab.master.psql("SELECT pg_switch_wal()")
        }
        #expect(try archived().contains(oldStart))
        let second = try await rig.master(["backup"])
        try #require(second.succeeded, "backup: \(second.stderrTail)")
        let kept = try await Self.listed(rig)
        #expect(kept.count == 1, "keep_backups = 0 keeps the newest only")
        let keptStart = try #require(kept.first?["start_wal"] as? String)
        let left = try archived()
        #expect(!left.contains(oldStart), "\(oldStart) outlived its backup: \(left.sorted())")
        #expect(left.contains(keptStart), "\(keptStart) is needed: \(left.sorted())")
        #expect(
            left.filter { String($0.dropFirst(8)) < String(keptStart.dropFirst(8)) }.isEmpty,
            "\(left.sorted())")
        if walInS3 {
            #expect(
                second.stderrTail.contains("older than \(keptStart)"), "\(second.stderrTail)")
        }

        try await rig.lab.master.psql("INSERT INTO t VALUES (100, 'after')")
        try await rig.lab.master.psql("SELECT pg_switch_wal()")
        try rig.lab.saveConfig()
        let standby = try await rig.lab.restoreStandby()
        try await waitUntil("the standby replays the newest change") {
            (try? await standby.psql("SELECT v FROM t WHERE id = 100")) == "after"
        }
    }
}
