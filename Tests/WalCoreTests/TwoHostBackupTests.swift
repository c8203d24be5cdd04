import Foundation
import Testing

@testable import WalCore

/// Backups, point-in-time recovery and verify on the user's path: two hosts, the configs
/// `--init-master`/`--init-slave` wrote, the README up to archiving, then the commands as
/// docs/walmgr.md gives them (see ``TwoHostLab``).
@Suite(.serialized) struct TwoHostBackupTests {
    typealias Lab = TwoHostLab

    /// Rows and content of the two tables, to compare a restored standby with the master.
    static let dataSQL =
        "SELECT (SELECT count(*) || ':' || md5(string_agg(t, ',' ORDER BY g)) FROM cold) || ' ' "
        + "|| (SELECT count(*) || ':' || sum(g) FROM hot)"

    /// Over ssh with `backup_incremental` on (the default) and `keep_backups = 1` in the
    /// master's ini: the second backup hard-links the unchanged table, copies the changed one,
    /// listbackups shows copied < size; the third rotates the first away; the newest and the
    /// kept older backup each restore to the master's data.
    @Test(.enabled(if: TwoHostTests.enabled), arguments: TestEnv.pgBinDirs)
    func incrementalBackupsRotateAndRestore(binDir: String) async throws {
        let lab = try await Lab.prepared(binDir: binDir, through: 5)
        defer { lab.destroy() }
        try lab.setKey("keep_backups", "1", in: Lab.masterIni, on: lab.master)
        let (cold, hot) = try await makeTables(lab)
        let data = lab.outside("\(Lab.walshipping)/data.master", on: lab.slave)
        // Only files last written more than a second before the previous backup's start are
        // linked (RsyncIncremental); wait for that instead of a third backup.
        let written = Self.stat(lab.outside("\(lab.dataDir)/\(cold)", on: lab.master)).st_mtim
        try await waitUntil("2 s after the cold table was written") {
            time(nil) >= written.tv_sec + 2
        }
        for _ in 0..<2 {
            try await lab.mustWalmgr(lab.master, [Lab.masterIni, "backup"])
            _ = try await lab.master.psql("UPDATE hot SET g = g + 1")
            _ = try await lab.master.psql("CHECKPOINT")
        }
        #expect(Self.inode("\(data)/\(cold)") == Self.inode("\(data).0/\(cold)"))
        #expect(Self.inode("\(data)/\(hot)") != Self.inode("\(data).0/\(hot)"))
        let list = try await listBackups(lab)
        let second = try #require(list.first)
        #expect((second.reusedFiles ?? 0) > 0, "\(second)")
        #expect(second.copiedBytes.map { $0 < second.sizeBytes } == true, "\(second)")
        #expect(list.last?.reusedFiles == 0, "the first backup is a full copy")
        let table = try await lab.mustWalmgr(lab.master, [Lab.masterIni, "listbackups"])
        #expect(table.output.contains("copied"), "\(table.output)")

        try await lab.mustWalmgr(lab.master, [Lab.masterIni, "backup"])
        #expect(!FileManager.default.fileExists(atPath: "\(data).1"), "keep_backups = 1")
        #expect(try await listBackups(lab).count == 2)
        #expect(Self.stat("\(data)/\(cold)").st_nlink == 2, "linked once, the first is gone")
        try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "verify", "--all"])

        for set in [[], ["data.master.0"]] {
            _ = try await lab.master.psql("INSERT INTO hot SELECT g FROM generate_series(1, 50) g")
            try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "restore"] + set)
            try await lab.waitSlaveCaughtUp()
            let want = try await lab.master.psql(Self.dataSQL)
            #expect(try await lab.slave.psql(Self.dataSQL) == want, "restore \(set)")
        }
        // Damage in a file the two backups share is damage in both: verify --all names both.
        try Self.flipByte(in: "\(data)/\(cold)", at: 8192 + 100)
        let damaged = try await lab.walmgr(lab.slave, [Lab.slaveIni, "verify", "--all"])
        let inside = "\(Lab.walshipping)/data.master"
        #expect(damaged.status == 1, "\(damaged.output)")
        #expect(
            damaged.output.contains("PROBLEM \(inside)/\(cold): sha256 expected")
                && damaged.output.contains("PROBLEM \(inside).0/\(cold): sha256 expected"),
            "\(damaged.output)")
    }

    /// Flips one bit of the byte at `offset` in `path`, in place (owner and links kept).
    static func flipByte(in path: String, at offset: UInt64) throws {
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw HarnessError("cannot open \(path)")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        guard let byte = try handle.read(upToCount: 1)?.first else {
            throw HarnessError("\(path) is shorter than \(offset + 1) bytes")
        }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: [byte ^ 0x01])
    }

    /// rsync's quick check (`--link-dest`) compares mtimes in whole seconds: a file written
    /// again, same size, within the second of the write before the previous backup's copy
    /// looks unchanged. Modelled deterministically: a table file's mtime is set (to a time
    /// after the first backup's start) before the first backup and again after an UPDATE that
    /// keeps its size. The second backup must hold the new bytes, not a link to the old ones:
    /// its WAL replay starts after that write, so nothing would repair them.
    @Test(.enabled(if: TwoHostTests.enabled), arguments: TestEnv.pgBinDirs)
    func fileRewrittenInTheSameSecondIsCopiedNotLinked(binDir: String) async throws {
        let lab = try await Lab.prepared(binDir: binDir, through: 5)
        defer { lab.destroy() }
        _ = try await lab.master.psql(
            "CREATE TABLE tricky (id int, n int) WITH (fillfactor = 50, autovacuum_enabled = off)")
        _ = try await lab.master.psql(
            "INSERT INTO tricky SELECT g, 0 FROM generate_series(1, 100) g")
        _ = try await lab.master.psql("CHECKPOINT")
        let relation = try await lab.master.psql("SELECT pg_relation_filepath('tricky')")
        let file = lab.outside("\(lab.dataDir)/\(relation)", on: lab.master)
        let when = timespec(tv_sec: time(nil) + 3600, tv_nsec: 500_000_000)
        try Self.setMtime(file, when)
        try await lab.mustWalmgr(lab.master, [Lab.masterIni, "backup"])
        let size = Self.stat(file).st_size
        _ = try await lab.master.psql("UPDATE tricky SET n = n + 1")
        _ = try await lab.master.psql("CHECKPOINT")
        try #require(Self.stat(file).st_size == size, "the UPDATE stays in the same pages")
        try Self.setMtime(file, when)
        try await lab.mustWalmgr(lab.master, [Lab.masterIni, "backup"])
        let copy = lab.outside("\(Lab.walshipping)/data.master/\(relation)", on: lab.slave)
        #expect(
            try FileDigest.sha256(file: copy).hex == FileDigest.sha256(file: file).hex,
            "the backup holds the rewritten file, not the previous backup's bytes")
        try await lab.mustWalmgr(lab.slave, [Lab.slaveIni, "restore"])
        try await lab.waitSlaveCaughtUp()
        #expect(try await lab.slave.psql("SELECT sum(n) FROM tricky") == "100", "the UPDATE")
    }

    /// Sets `path`'s mtime (and atime) to `when`, to the nanosecond.
    static func setMtime(_ path: String, _ when: timespec) throws {
        let times = [when, when]
        guard utimensat(AT_FDCWD, path, times, 0) == 0 else {
            throw HarnessError("utimensat \(path): errno \(errno)")
        }
    }

    /// `cold` (frozen, autovacuum off: no hint bit or visibility map write can touch its file
    /// again) and `hot`, checkpointed; their files relative to the data dir.
    func makeTables(_ lab: Lab) async throws -> (cold: String, hot: String) {
        let off = "WITH (autovacuum_enabled = off)"
        _ = try await lab.master.psql(
            "CREATE TABLE cold \(off) AS "
                + "SELECT g, md5(g::text) AS t FROM generate_series(1, 20000) g")
        _ = try await lab.master.psql(
            "CREATE TABLE hot \(off) AS SELECT g FROM generate_series(1, 20000) g")
        _ = try await lab.master.psql("VACUUM (FREEZE) cold")
        _ = try await lab.master.psql("CHECKPOINT")
        return (
            try await lab.master.psql("SELECT pg_relation_filepath('cold')"),
            try await lab.master.psql("SELECT pg_relation_filepath('hot')")
        )
    }

    /// `listbackups --json` on the master (it asks the slave over ssh), decoded.
    func listBackups(_ lab: Lab) async throws -> [BackupManifest] {
        let result = try await lab.mustWalmgr(lab.master, [Lab.masterIni, "listbackups", "--json"])
        return try JSONDecoder().decode([BackupManifest].self, from: Data(result.stdout))
    }

    static func stat(_ path: String) -> stat {
        var st = Glibc.stat()
        lstat(path, &st)
        return st
    }

    static func inode(_ path: String) -> ino_t { stat(path).st_ino }
}
