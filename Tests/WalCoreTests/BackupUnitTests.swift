import Foundation
import Testing

@testable import WalCore

/// Pure and file-level parts of backup: purge selection, rsync argv, stats, lock, rotation.
@Suite struct BackupUnitTests {
    @Test func purgeIsTimelineAwareAndKeepsHistory() {
        let stored = [
            "000000010000000000000003", "000000010000000000000004.zst",
            "000000010000000000000004.00000028.backup", "000000010000000000000005",
            "000000020000000000000004", "00000002.history", "000000030000000000000001",
            "000000010000000000000004.partial", "BACKUPLOCK", ".x.walmgr-tmp",
        ]
        let removed = WALPurge.removable(stored, keepFrom: "000000020000000000000005")
        #expect(
            removed == [
                "000000010000000000000003", "000000010000000000000004.zst",
                "000000010000000000000004.00000028.backup", "000000020000000000000004",
                "000000010000000000000004.partial",
            ])
        #expect(WALPurge.removable(stored, keepFrom: "not-a-wal").isEmpty)
    }

    /// `xrotate KEEP`: the master's keep_backups reaches the slave; the larger of the two
    /// configs wins, so neither ini's setting removes a backup the other keeps.
    @Test func rotationKeepsTheLargerOfMasterAndSlave() throws {
        #expect(try SlaveBackupHelpers.rotationKeep(nil, own: 2) == 2)
        #expect(try SlaveBackupHelpers.rotationKeep("1", own: 0) == 1)
        #expect(try SlaveBackupHelpers.rotationKeep("0", own: 3) == 3)
        for bad in ["-1", "x", "", "99999999999999999999"] {
            #expect(throws: WalmgrFailure.self) { try SlaveBackupHelpers.rotationKeep(bad, own: 0) }
        }
    }

    /// `xpurgewals START_WAL` (the master's oldest S3 backup): a file goes only when both the
    /// slave's own oldest backup and START_WAL allow it, so a slave ini whose full_backup holds
    /// a newer backup never removes WAL the bucket's oldest backup needs.
    @Test func purgeFloorKeepsWhatTheMastersOldestBackupNeeds() throws {
        let stored = (2...9).map { String(format: "0000000100000000000000%02X", $0) }
        let manifest = BackupManifest(
            name: "data.master", label: "t", status: "complete", startTime: "", stopTime: "",
            startLSN: "", stopLSN: "", startWAL: "000000010000000000000008", stopWAL: "",
            timeline: 1, pgVersion: 150000, systemIdentifier: "", sizeBytes: 0, fileCount: 0,
            tablespaces: [], takenFrom: "master")
        let oldest = BackupCatalog.Entry(path: "/w/data.master", manifest: manifest)
        var removed: [String] = []
        let purged = try WALPurge.purge(
            oldest: oldest, floor: "000000010000000000000004", archive: "/w/logs.complete",
            log: Log(quiet: true), list: { stored }, remove: { removed = $0 })
        #expect(purged == ["000000010000000000000002", "000000010000000000000003"])
        #expect(removed == purged)
        let unbounded = try WALPurge.purge(
            oldest: oldest, archive: "/w/logs.complete", log: Log(quiet: true),
            list: { stored }, remove: { _ in })
        #expect(unbounded.count == 6)
    }

    /// `xpurgewals START_WAL` on a slave whose own full_backup holds no backup (its ini left
    /// as --init-slave wrote it, the backups in the master's bucket): START_WAL alone bounds
    /// the purge, instead of nothing ever being removed.
    @Test func purgeFloorAloneWhenThisHostHasNoBackup() throws {
        let stored = (2...9).map { String(format: "0000000100000000000000%02X", $0) }
        var removed: [String] = []
        let purged = try WALPurge.purge(
            oldest: nil, floor: "000000010000000000000004", archive: "/w/logs.complete",
            log: Log(quiet: true), list: { stored }, remove: { removed = $0 })
        #expect(purged == ["000000010000000000000002", "000000010000000000000003"])
        #expect(removed == purged)
        let noFloor = try WALPurge.purge(
            oldest: nil, archive: "/w/logs.complete", log: Log(quiet: true),
            list: { stored }, remove: { _ in Issue.record("nothing goes without a backup") })
        #expect(noFloor.isEmpty)
    }

    @Test func rsyncArgvOverSSH() {
        let ssh = SSH(host: "db2", options: ["-p", "2222"], controlDir: nil)
        let command = BackupCopy.rsync(
            source: "/data", destination: Location("db2:/w/data.master.inprogress"), ssh: ssh,
            compress: true, excludes: ["/postmaster.pid"])
        #expect(command.executable == "rsync")
        #expect(
            command.arguments == [
                "-a", "--delete", "--stats", "--no-human-readable", "-z", "-s", "-e",
                ssh.rsyncShell, "--exclude=/postmaster.pid", "--", "/data/",
                "db2:/w/data.master.inprogress/",
            ])
        #expect(BackupCopy.dataDirExcludes.contains("/pg_replslot/*"))
        #expect(
            !BackupCopy.dataDirExcludes.contains {
                $0.contains("auto.conf") && !$0.hasSuffix(".tmp")
            })
    }

    @Test func rsyncStats() {
        let out = """
            Number of files: 1,234 (reg: 1,000, dir: 234)
            Total file size: 23,456,789 bytes
            """
        let stats = BackupCopy.stats(out)
        #expect(stats.bytes == 23_456_789 && stats.files == 1000)
    }

    @Test func lockRefusesLiveHolderAndTakesOverDeadOne() throws {
        let dir = try TestEnv.scratchDir(prefix: "wmu")
        defer { TestEnv.removeScratch(dir) }
        let lock = BackupLock(completedWals: dir)
        let log = Log(verbose: false, quiet: true)
        let me = BackupLock.Holder(
            pid: getpid(), host: BackupLock.hostName, since: "2026-01-01T00:00:00Z")
        try lock.acquire(me, log: log)
        #expect(lock.holder() == me)
        let other = BackupLock.Holder(pid: 1, host: BackupLock.hostName, since: "x")
        let error = #expect(throws: BackupError.self) { try lock.acquire(other, log: log) }
        #expect(error?.description.contains("pid \(getpid())") == true)
        // A pid that cannot exist is stale.
        try Data("pid=999999999\nhost=\(BackupLock.hostName)\nsince=x\n".utf8)
            .write(to: URL(fileURLWithPath: lock.path))
        try lock.acquire(other, log: log)
        #expect(lock.holder()?.pid == 1)
        #expect(try lock.release(pid: 2) == false)
        #expect(try lock.release(pid: 1) == true)
        #expect(lock.holder() == nil)
    }

    @Test func rotationKeepsNewestPlusKeep() async throws {
        let dir = try TestEnv.scratchDir(prefix: "wmu")
        defer { TestEnv.removeScratch(dir) }
        let catalog = BackupCatalog(fullBackup: "\(dir)/data.master")
        let rotation = BackupRotation(catalog: catalog, keep: 1, hook: nil)
        let log = Log(verbose: false, quiet: true)
        for n in 0..<3 {
            try FileManager.default.createDirectory(
                atPath: catalog.inProgress, withIntermediateDirectories: true)
            var manifest = try BackupManifest.decode(Array(Self.manifestJSON.utf8))
            manifest.label = "b\(n)"
            try Data(try manifest.encoded()).write(
                to: URL(fileURLWithPath: "\(catalog.inProgress)/\(BackupManifest.fileName)"))
            #expect(try await rotation.rotate(runner: SubprocessRunner(), log: log))
        }
        #expect(catalog.list().map(\.manifest.label) == ["b2", "b1"])
        #expect(catalog.list().map(\.manifest.name) == ["data.master", "data.master.0"])
        #expect(try await rotation.rotate(runner: SubprocessRunner(), log: log) == false)
    }

    @Test func legacyLabelTimeBecomesISO() {
        #expect(
            BackupCatalog.isoTime(labelTime: "2026-11-21 21:00:00 UTC") == "2026-11-21T21:00:00Z")
    }

    static let manifestJSON = """
        {"name":"","label":"x","status":"complete","start_time":"2026-11-21T21:00:00Z",
        "stop_time":"2026-11-21T21:00:05Z","start_lsn":"0/2000028","stop_lsn":"0/2000100",
        "start_wal":"000000010000000000000002","stop_wal":"000000010000000000000002",
        "timeline":1,"pg_version":150000,"system_identifier":"1","size_bytes":10,
        "file_count":1,"tablespaces":[],"taken_from":"master"}
        """

    /// A backup `restore --move` consumed (marked before a kill stopped it) is no backup in
    /// progress: `status` said one was, for ever.
    @Test func consumedBackupIsNotInProgress() throws {
        func manifest(_ status: String) -> BackupManifest {
            BackupManifest(
                name: "data.master", label: "t", status: status, startTime: "", stopTime: "",
                startLSN: "", stopLSN: "", startWAL: "", stopWAL: "", timeline: 1,
                pgVersion: 150000, systemIdentifier: "", sizeBytes: 0, fileCount: 0,
                tablespaces: [], takenFrom: "master")
        }
        func inProgress(_ statuses: [String]) -> JSONValue? {
            guard case .object(let fields) = BackupSummary.json(statuses.map(manifest)) else {
                return nil
            }
            return fields["in_progress"]
        }
        #expect(inProgress(["complete", RestoreCopy.consumedStatus]) == .bool(false))
        #expect(inProgress(["complete", BackupManifest.inProgress]) == .bool(true))
    }

    /// The start time the incremental rules compare mtimes with is never later than walmgr's
    /// own clock before the backup: a label time misread through its zone abbreviation (CST)
    /// cannot move it later, where fewer files would be sent again.
    @Test func startTimeIsTheEarlierOfClockAndLabel() throws {
        func filled(_ labelTime: String) throws -> String {
            var manifest = BackupManifest(
                name: "data.master", label: "t", status: BackupManifest.inProgress,
                startTime: "2026-11-30T12:00:00Z", stopTime: "", startLSN: "", stopLSN: "",
                startWAL: "", stopWAL: "", timeline: 1, pgVersion: 150000,
                systemIdentifier: "", sizeBytes: 0, fileCount: 0, tablespaces: [],
                takenFrom: "master")
            let label =
                "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
                + "START TIME: \(labelTime)\n"
            try BackupRun.fill(
                &manifest,
                stop: BackupSession.Stop(lsn: LSN(0x300_0000), labelFile: label, spcmapFile: ""),
                segmentSize: 16 << 20)
            return manifest.startTime
        }
        // 12:00:05 in Shanghai, read as US Central: 18:00:05Z.
        #expect(try filled("2026-11-30 12:00:05 CST") == "2026-11-30T12:00:00Z")
        #expect(try filled("2026-11-30 11:59:58 UTC") == "2026-11-30T11:59:58Z")
    }

    /// Rotation counts only the names it writes: `data.master.+1` or `.01` are not backup 1.
    @Test func rotationPathsAreOnlyRotationsNames() throws {
        let dir = try TestEnv.scratchDir(prefix: "wrot")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in [
            "data.master", "data.master.0", "data.master.+1", "data.master.01", "data.master.-1",
        ] {
            try FileManager.default.createDirectory(
                atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
        }
        let catalog = BackupCatalog(fullBackup: "\(dir)/data.master")
        #expect(catalog.rotationPaths() == ["\(dir)/data.master", "\(dir)/data.master.0"])
    }
}
