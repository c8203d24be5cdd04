import Foundation
import Testing
import WalCore

/// Backups into S3 (`full_backup = s3://…`) with the WAL archive in a directory on the standby
/// host, on two hosts with the generated configs: `backup` on the master checks the WAL over
/// ssh (`xwalcheck`), rotation runs the slave's `xpurgewals START_WAL` over ssh, and `restore`
/// on the standby downloads from the bucket and replays to the newest change. The gateway
/// listens on the master's veth address, which both hosts reach.
@Suite(.serialized) struct TwoHostS3Tests {
    static let enabled = TwoHostTests.enabled && CephRGW.isAvailable
    var masterIni: String { TwoHostLab.masterIni }
    var slaveIni: String { TwoHostLab.slaveIni }
    var complete: String { "\(Host.home)/walshipping/logs.complete" }

    @Test(.enabled(if: enabled), arguments: TestEnv.pgBinDirs)
    func s3BackupsWithTheArchiveOnTheStandbyHost(binDir: String) async throws {
        let lab = try await TwoHostLab(binDir: binDir)
        defer { lab.destroy() }
        let rgw = try await CephRGW.start(address: lab.net.masterAddress)
        defer { rgw.stop() }
        let s3 = try await S3Lab(scratch: lab.scratch, tag: "twohost", rgw: rgw)
        try await lab.quickStart(before: "6.")
        // The slave's ini keeps the generated directory full_backup until it restores from the
        // bucket: its xpurgewals has no backup of its own, START_WAL alone decides.
        try configure(lab, s3, host: lab.master, ini: masterIni)
        try configure(lab, s3, host: lab.slave, ini: slaveIni, fullBackup: false)
        let names = try await threeBackups(lab, s3)
        let kept = try await backups(lab)
        #expect(
            kept.compactMap { $0["name"] as? String } == [names[2], names[1]], "keep_backups 1")
        let oldestStart = try #require(kept.last?["start_wal"] as? String)
        try purgedUpTo(oldestStart, lab)
        _ = try await lab.master.psql("UPDATE t SET v = 'newest' WHERE id = 3")
        let last = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        _ = try await lab.master.psql("SELECT pg_switch_wal()")
        try await waitUntil("\(last) is archived on the standby host") {
            lab.names(in: complete, on: lab.slave).contains(last)
        }
        try lab.setKey("full_backup", "s3://\(s3.bucket)/backups", in: slaveIni, on: lab.slave)
        let restore = try await lab.walmgr(lab.slave, [slaveIni, "restore"])
        try #require(restore.succeeded, "restore: \(restore.text)")
        #expect(restore.text.contains("s3://\(s3.bucket)/backups/\(names[2])"), "\(restore.text)")
        try await waitUntil("the standby replays the newest change") {
            (try? await lab.slave.psql("SELECT v FROM t WHERE id = 3")) == "newest"
        }
        #expect(try await lab.slave.psql("SELECT count(*) FROM t") == "3")
        try await checksPass(lab, s3)
    }

    /// A row, then `backup` on the master, three times; the backups' names, oldest first.
    func threeBackups(_ lab: TwoHostLab, _ s3: S3Lab) async throws -> [String] {
        _ = try await lab.master.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
        var names: [String] = []
        for round in 1...3 {
            _ = try await lab.master.psql("INSERT INTO t VALUES (\(round), 'backup \(round)')")
            let backup = try await lab.walmgr(lab.master, [masterIni, "backup"])
            try #require(backup.succeeded, "backup \(round): \(backup.text)")
            #expect(backup.text.contains("s3://\(s3.bucket)/backups"), "\(backup.text)")
            names.append(try #require(try await backups(lab).first?["name"] as? String))
        }
        return names
    }

    /// `check` on both hosts: the master proves the bucket answers before a backup needs it;
    /// the slave checks the WAL after the bucket's newest backup in its directory.
    func checksPass(_ lab: TwoHostLab, _ s3: S3Lab) async throws {
        let master = try await lab.walmgr(lab.master, [masterIni, "check"])
        #expect(master.succeeded, "\(master.text)")
        #expect(
            master.text.contains("OK   full_backup reachable: s3://\(s3.bucket)/backups"),
            "\(master.text)")
        // The master lists the bucket; the windows come from the slave (its ini now names the
        // bucket too), whose directory holds the WAL: the master's own disk has none.
        let listed = try await backups(lab)
        #expect(listed.allSatisfy { $0["recoverable_to"] is String }, "\(listed)")
        let slave = try await lab.walmgr(lab.slave, [slaveIni, "check"])
        #expect(slave.succeeded, "\(slave.text)")
        let newest = try #require(try await backups(lab).first?["start_wal"] as? String)
        #expect(
            slave.text.contains("OK   WAL after backup: contiguous from \(newest)"),
            "\(slave.text)")
    }

    /// `keep_backups = 1`, the s3 keys and a credentials file beside the config, and
    /// `full_backup` in the bucket unless `fullBackup` is false.
    func configure(
        _ lab: TwoHostLab, _ s3: S3Lab, host: Host, ini: String, fullBackup: Bool = true
    ) throws {
        let credentials = "\(TwoHostLab.configDir)/s3.credentials"
        try S3Lab.writeCredentials(
            lab.outside(credentials, on: host), key: CephRGW.accessKey, secret: CephRGW.secretKey)
        let keys =
            (fullBackup ? [("full_backup", "s3://\(s3.bucket)/backups")] : []) + [
                ("keep_backups", "1"), ("s3_endpoint", s3.rgw.endpoint),
                ("s3_region", "us-east-1"), ("s3_uri_style", "path"),
                ("s3_credentials_file", credentials),
            ]
        for (key, value) in keys { try lab.setKey(key, value, in: ini, on: host) }
    }

    /// `listbackups --json` on the master: the bucket's backups, newest first.
    func backups(_ lab: TwoHostLab) async throws -> [[String: Any]] {
        let result = try await lab.master.run(["walmgr", masterIni, "listbackups", "--json"])
        let json = try? JSONSerialization.jsonObject(with: Data(result.stdout))
        return try #require(json as? [[String: Any]], "\(result.output)\(result.stderrTail)")
    }

    /// The slave's logs.complete starts at the oldest kept backup's start WAL: older segments
    /// were purged (by xpurgewals over ssh), and none from there on is missing.
    func purgedUpTo(_ start: String, _ lab: TwoHostLab) throws {
        let names = lab.names(in: complete, on: lab.slave)
        let segments = names.filter { WALName($0)?.kind == .segment }
        #expect(segments.first == start, "purged up to \(start): \(names)")
        let numbers = segments.compactMap { WALSegment(name: $0, size: 16 << 20)?.number }
        #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "\(segments)")
    }
}
