import Foundation
import Testing

@testable import WalCore

/// What `xpurgewals` keeps for the standby in slave_data (``StandbyFloor``).
@Suite struct StandbyFloorTests {
    /// pg_control's start as PostgreSQL writes it (little-endian here): the redo location and
    /// timeline at 40/48 (11–18) or 48/56 (9.6 and 10, which still had prevCheckPoint).
    static func control(version: UInt32, redo: UInt64, timeline: UInt32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 8192)
        let at = version < 1100 ? 48 : 40
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: 7_300_000_000_000_000_001, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: version, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: 0x1_0000_0028, toByteOffset: at - 8, as: UInt64.self)
            raw.storeBytes(of: redo, toByteOffset: at, as: UInt64.self)
            raw.storeBytes(of: timeline, toByteOffset: at + 8, as: UInt32.self)
        }
        return bytes
    }

    @Test func restartPointIsReadForKnownVersionsOnly() throws {
        for version: UInt32 in [960, 1002, 1100, 1201, 1300, 1700, 1800] {
            let point = try #require(
                ControlFile.restartPoint(
                    Self.control(version: version, redo: 0x3_0500_0028, timeline: 2)))
            #expect(point.redo.description == "3/5000028" && point.timeline == 2, "\(version)")
        }
        #expect(ControlFile.restartPoint(Self.control(version: 1900, redo: 1, timeline: 1)) == nil)
        #expect(ControlFile.restartPoint(Self.control(version: 1800, redo: 1, timeline: 0)) == nil)
        let short = Array(Self.control(version: 1800, redo: 1, timeline: 1).prefix(59))
        #expect(ControlFile.restartPoint(short) == nil)
        #expect(ControlFile.restartPoint(nil) == nil)
    }

    /// A data dir with PG_VERSION and `files` (name → content).
    static func dataDir(_ root: String, _ files: [String: [UInt8]]) throws -> String {
        let dir = "\(root)/main"
        for (name, bytes) in files.merging(
            ["PG_VERSION": Array("15\n".utf8)], uniquingKeysWith: { $1 })
        {
            let path = "\(dir)/\(name)"
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        return dir
    }

    @Test func onlyAClusterInRecoveryHasAFloor() throws {
        let root = try TestEnv.scratchDir(prefix: "wmf")
        defer { TestEnv.removeScratch(root) }
        #expect(StandbyFloor.find(dataDir: "", archive: nil) == .none)
        #expect(StandbyFloor.find(dataDir: "\(root)/absent", archive: nil) == .none)
        let control = Self.control(version: 1300, redo: 0x5_0000_0028, timeline: 1)
        let promoted = try Self.dataDir(root, ["global/pg_control": control])
        #expect(StandbyFloor.find(dataDir: promoted, archive: nil) == .none, "no standby.signal")
    }

    /// Not yet started: backup_label's start, not pg_control's (later) checkpoint. Started:
    /// pg_control's restart point, named with the segment size found in pg_wal; with no
    /// segment to tell the size, the largest size, which names an earlier file.
    @Test func backupLabelFirstThenTheRestartPoint() throws {
        let root = try TestEnv.scratchDir(prefix: "wmf")
        defer { TestEnv.removeScratch(root) }
        let control = Self.control(version: 1700, redo: 0x5_0300_0028, timeline: 2)
        let label = "START WAL LOCATION: 4/2000028 (file 000000020000000400000002)\n"
        let dir = try Self.dataDir(
            root,
            [
                "global/pg_control": control, "standby.signal": [],
                "backup_label": Array(label.utf8),
            ])
        guard case .wal(let start, _) = StandbyFloor.find(dataDir: dir, archive: nil) else {
            Issue.record("backup_label names the floor")
            return
        }
        #expect(start == "000000020000000400000002")

        try FileManager.default.removeItem(atPath: "\(dir)/backup_label")
        guard case .wal(let unsized, _) = StandbyFloor.find(dataDir: dir, archive: nil) else {
            Issue.record("pg_control names the floor")
            return
        }
        #expect(unsized == "000000020000000500000000", "1 GiB segments: the earliest name")
        try FileManager.default.createDirectory(
            atPath: "\(dir)/pg_wal", withIntermediateDirectories: true)
        try Data(count: 16 << 20).write(
            to: URL(fileURLWithPath: "\(dir)/pg_wal/000000020000000500000001"))
        #expect(
            StandbyFloor.find(dataDir: dir, archive: nil)
                == .wal(
                    "000000020000000500000003",
                    why: "the standby in \(dir) (standby.signal) restarts from 5/3000028"))
    }

    /// A backup restore has copied (`.walmgr-restore`) or downloaded (`.walmgr-s3`) next to
    /// slave_data but not yet swapped in: its START WAL is kept too, whatever slave_data holds.
    @Test func aBackupBeingPutInPlaceKeepsItsStart() throws {
        let root = try TestEnv.scratchDir(prefix: "wmf")
        defer { TestEnv.removeScratch(root) }
        let dir = "\(root)/main"
        #expect(StandbyFloor.onThisHost(dataDir: dir, archive: nil) == [.none, .none, .none])
        let label = "START WAL LOCATION: 0/6000028 (file 000000010000000000000006)\n"
        for (index, staged) in ["\(dir).walmgr-restore", "\(dir).walmgr-s3"].enumerated() {
            try FileManager.default.createDirectory(
                atPath: staged, withIntermediateDirectories: true)
            try label.write(toFile: "\(staged)/backup_label", atomically: false, encoding: .utf8)
            let floors = StandbyFloor.onThisHost(dataDir: dir, archive: nil)
            #expect(
                floors[1 + index]
                    == .wal(
                        "000000010000000000000006",
                        why: "restore is putting the backup in \(staged) in place"))
        }
        let stored = (2...9).map { String(format: "0000000100000000000000%02X", $0) }
        let removable = StandbyFloor.filter(
            stored, by: StandbyFloor.onThisHost(dataDir: dir, archive: nil), log: Log(quiet: true))
        #expect(removable == (2...5).map { String(format: "0000000100000000000000%02X", $0) })
    }

    @Test func anUnreadableStandbyKeepsAllWAL() throws {
        let root = try TestEnv.scratchDir(prefix: "wmf")
        defer { TestEnv.removeScratch(root) }
        let dir = try Self.dataDir(
            root,
            [
                "global/pg_control": Self.control(version: 9999, redo: 1, timeline: 1),
                "recovery.signal": [],
            ])
        let floor = StandbyFloor.find(dataDir: dir, archive: nil)
        guard case .unknown = floor else {
            Issue.record("an unknown pg_control version is no floor: \(floor)")
            return
        }
        let stored = (2...9).map { String(format: "0000000100000000000000%02X", $0) }
        let purged = try WALPurge.purge(
            oldest: nil, floor: "000000010000000000000008", standby: [floor],
            archive: "/w/logs.complete", log: Log(quiet: true), list: { stored },
            remove: { _ in Issue.record("nothing goes while the standby's needs are unknown") })
        #expect(purged.isEmpty)
    }

    /// `xstandbyfloor`'s lines read back as the floors they print; a line that is not one
    /// (another walmgr's output) keeps all WAL.
    @Test func xstandbyfloorLinesReadBack() {
        let floors: [StandbyFloor] = [
            .wal("000000020000000500000003", why: "the standby in /d restarts from 5/3000028"),
            .unknown("cannot look into /d: Permission denied"), .none,
        ]
        let printed = floors.compactMap(\.line).joined(separator: "\n") + "\n"
        #expect(StandbyFloor.parse(printed) == Array(floors.prefix(2)))
        #expect(StandbyFloor.parse("") == [])
        for odd in ["wal 0000 why", "wal", "{\"ok\": true}"] {
            #expect(StandbyFloor.parse(odd).first?.unknown != nil, "\(odd)")
        }
    }

    /// The standby's floor bounds the purge as the master's START_WAL does.
    @Test func theStandbysFloorKeepsItsWAL() throws {
        let stored = (2...9).map { String(format: "0000000100000000000000%02X", $0) }
        let purged = try WALPurge.purge(
            oldest: nil, floor: "000000010000000000000008",
            standby: [.wal("000000010000000000000004", why: "test")],
            archive: "/w/logs.complete", log: Log(quiet: true), list: { stored },
            remove: { _ in })
        #expect(purged == ["000000010000000000000002", "000000010000000000000003"])
    }
}

/// A standby restored from the oldest backup, then that backup rotated out: `xpurgewals` keeps
/// the WAL the standby restarts from, and lets it go once the standby's restart point passed it.
@Suite struct StandbyFloorIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func purgeKeepsWhatTheStandbyRestartsFrom(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        defer { lab.destroy() }
        let redo = try await lab.master.psql(
            "CHECKPOINT; SELECT redo_lsn || ' ' || timeline_id FROM pg_control_checkpoint()")
        let read = try #require(ControlFile.restartPoint(lab.master.dataDir))
        #expect("\(read.redo) \(read.timeline)" == redo, "pg_control's layout on this version")

        try await lab.master.psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g")
        try await lab.makeBackup(label: "oldest")
        for round in 1...2 {
            try await lab.master.psql("INSERT INTO t SELECT g FROM generate_series(1, 100) g")
            try await lab.waitArchived(try await lab.switchWAL(), "round \(round)")
        }
        try await lab.makeBackup(label: "newest")
        let oldest = try BackupManifest.decode(
            Array(
                Data(contentsOf: URL(fileURLWithPath: "\(lab.fullBackup).0/walmgr_manifest.json"))))
        let restore = try await lab.walmgr(["restore", "data.master.0"])
        let standby = lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)")
        try await lab.master.psql("INSERT INTO t SELECT g FROM generate_series(1, 100) g")
        try await lab.waitArchived(try await lab.switchWAL(), "the last rows")
        try await waitUntil("the standby replayed every row") {
            try await standby.psql("SELECT count(*) FROM t") == "400"
        }
        // keep_backups = 0 would have rotated it out: the oldest backup is gone.
        try FileManager.default.removeItem(atPath: "\(lab.fullBackup).0")

        let purge = try await lab.walmgr(["xpurgewals"])
        #expect(purge.succeeded, "\(purge.stderrTail)")
        #expect(
            purge.stderrTail.contains("from \(oldest.startWAL) on: the standby in"),
            "\(purge.stderrTail)")
        #expect(FileManager.default.fileExists(atPath: "\(lab.completedWals)/\(oldest.startWAL)"))
        let status = try await lab.walmgr(["status", "--json"])
        let json =
            try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        let archive = json?["completed_wals"] as? [String: Any]
        #expect(archive?["kept_for_standby"] as? String == oldest.startWAL, "\(status.output)")
        standby.stop(mode: "immediate")
        try await standby.start()
        try await waitUntil("the restarted standby replayed every row again") {
            try await standby.psql("SELECT count(*) FROM t") == "400"
        }

        // A restart point at the newest backup's checkpoint moves the floor past the oldest.
        try await standby.psql("CHECKPOINT")
        let again = try await lab.walmgr(["xpurgewals"])
        #expect(again.succeeded, "\(again.stderrTail)")
        #expect(
            !FileManager.default.fileExists(atPath: "\(lab.completedWals)/\(oldest.startWAL)"),
            "\(again.stderrTail)")
    }
}
