import Foundation
import Testing

@testable import WalCore

/// restore keeps the standby's own config files; a first restore uses the master's copies only
/// when slave_config_dir is set (walmgr3's rule), and backups leave out setup's conf copies.
@Suite struct RestoreConfigTests {
    static let withDir = "[walmgr]\nslave_data = /pg/data\nslave_config_dir = %(slave_data)s\n"
    static let withoutDir = "[walmgr]\nslave_data = /pg/data\n"

    @Test func theOldDataDirsOwnFilesWin() throws {
        let dir = try TestEnv.scratchDir(prefix: "wrc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "port = 5499\n".write(
            toFile: "\(dir)/postgresql.conf", atomically: true, encoding: .utf8)
        let config = try ConfigFixture.slave(Self.withDir)
        #expect(
            ConfigRestore.choose(destination: dir, config: config, isStandby: true)
                == .keepOwn(names: ["postgresql.conf"]))
        #expect(
            ConfigRestore.choose(destination: "\(dir)/none", config: config, isStandby: true)
                == .masterCopies(directory: "\(dir)/none", intoDataDir: true))
        let unset = try ConfigFixture.slave(Self.withoutDir)
        #expect(
            ConfigRestore.choose(destination: "\(dir)/none", config: unset, isStandby: true)
                == .none)
        #expect(
            ConfigRestore.choose(destination: "\(dir)/none", config: unset, isStandby: false)
                == .masterCopies(directory: "\(dir)/none", intoDataDir: true),
            "a DST that is not the standby gets config_backup's files, so it can start")
    }

    @Test func aSeparateConfigDirGetsTheMastersCopies() throws {
        let config = try ConfigFixture.slave(Self.withoutDir + "slave_config_dir = /etc/pg\n")
        #expect(
            ConfigRestore.choose(destination: "/pg/data", config: config, isStandby: true)
                == .masterCopies(directory: "/etc/pg", intoDataDir: false))
    }

    @Test func withoutSlaveConfigDirTheMastersFilesAreLeftOut() throws {
        let dir = try TestEnv.scratchDir(prefix: "wrc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ConfigRestore.serverFiles + ["postgresql.auto.conf"] {
            try "x\n".write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
        }
        try ConfigRestore.apply(
            .none, staging: dir, destination: "/pg/data", configBackup: "/nowhere",
            record: "/nowhere/record", log: Log(quiet: true))
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(left == ["postgresql.auto.conf"], "only auto.conf (recovery settings) stays")
    }

    @Test func setupsConfCopiesAreNotBackedUp() {
        let rules = LocalTreeCopy(excludes: BackupCopy.dataDirExcludes).rules
        let excluded = { (name: String) in rules.contains { $0.excludes(name, name: name) } }
        #expect(excluded("postgresql.conf.walmgr-20261130-010203"))
        #expect(!excluded("postgresql.conf"))
    }

    /// On real servers: a re-restore keeps the standby's edited postgresql.conf, and a first
    /// restore without slave_config_dir is refused before anything exists.
    @Test(arguments: TestEnv.pgBinDirs)
    func restoreKeepsTheStandbysOwnConfig(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try await lab.makeBackup()
        let ini = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        let unset = ini.replacingOccurrences(of: "slave_config_dir = %(slave_data)s\n", with: "")
        try TestEnv.writeOwned(lab.slaveIni, unset)
        let refused = try await lab.walmgr(["restore"])
        #expect(refused.status == 1)
        #expect(refused.stderrTail.contains("slave_config_dir is not set"), "\(refused.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: lab.standbyData), "nothing was changed")

        try TestEnv.writeOwned(lab.slaveIni, ini)
        let first = try await lab.walmgr(["restore"])
        let standby = lab.attachStandby()
        try #require(first.succeeded, "restore: \(first.stderrTail)\n\(standby.logTail())")
        let own =
            try String(
                contentsOfFile: "\(lab.standbyData)/postgresql.conf", encoding: .utf8)
            + "\n# the standby's own edit\n"
        try TestEnv.writeOwned("\(lab.standbyData)/postgresql.conf", own)
        try TestEnv.writeOwned(
            "\(lab.walmgrData)/config.backup/postgresql.conf", "port = 1\n# the master's copy\n")
        try await lab.makeBackup(label: "second")

        let again = try await lab.walmgr(["restore"])
        try #require(again.succeeded, "restore: \(again.stderrTail)\n\(standby.logTail())")
        #expect(again.stderrTail.contains("kept the standby's own"), "\(again.stderrTail)")
        let kept = try String(
            contentsOfFile: "\(lab.standbyData)/postgresql.conf", encoding: .utf8)
        #expect(kept == own)
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "t")
    }
}

/// keep_old_datadirs bounds the `<slave_data>.N` copies restore keeps, and status shows them.
@Suite struct OldDataDirsTests {
    @Test func numbersFollowAgeAndOnlyDataDirsCount() throws {
        let dir = try TestEnv.scratchDir(prefix: "wod")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = "\(dir)/main"
        #expect(OldDataDirs.nextPath(data) == "\(data).0")
        for n in [0, 2, 7] {
            try FileManager.default.createDirectory(
                atPath: "\(data).\(n)", withIntermediateDirectories: true)
        }
        try "15\n".write(toFile: "\(data).2/PG_VERSION", atomically: true, encoding: .utf8)
        try "15\n".write(toFile: "\(data).7/PG_VERSION", atomically: true, encoding: .utf8)
        #expect(OldDataDirs.nextPath(data) == "\(data).8", "above the highest, not a gap")
        #expect(OldDataDirs.list(data) == ["\(data).2", "\(data).7"])
        #expect(OldDataDirs.size(OldDataDirs.list(data)) == 6)
        // Names restore never writes are nobody's old copy, so pruning never deletes them.
        for other in ["+1", "01", "-0"] {
            try FileManager.default.createDirectory(
                atPath: "\(data).\(other)/base", withIntermediateDirectories: true)
            try "15\n".write(
                toFile: "\(data).\(other)/PG_VERSION", atomically: true, encoding: .utf8)
        }
        #expect(OldDataDirs.list(data) == ["\(data).2", "\(data).7"])
        // cleanup removes the same ones (it read `.01` as a number too).
        #expect(Cleanup.oldDataDirs(data) == ["\(data).2", "\(data).7"])
    }

    @Test func theKeyIsReadAndChecked() throws {
        let base = "[walmgr]\nslave_data = /pg\n"
        #expect(try ConfigFixture.slave(base).keepOldDatadirs == 3)
        #expect(try ConfigFixture.slave(base + "keep_old_datadirs = 1\n").keepOldDatadirs == 1)
        #expect(throws: ConfigError.self) {
            try ConfigFixture.slave(base + "keep_old_datadirs = 0\n")
        }
        // 10 × boot_sync_quiet is boot's bound: a huge value would trap, a negative one would
        // turn off the wait that protects acknowledged commits.
        for bad in ["-1", "3601", "99999999999999999"] {
            #expect(throws: ConfigError.self) {
                try ConfigFixture.slave(base + "boot_sync_quiet = \(bad)\n")
            }
        }
    }

    /// backup_datadir = yes and keep_old_datadirs = 1 in the lab's slave ini.
    static func keepOneOldDataDir(_ lab: StandbyLab) throws {
        let ini = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        try TestEnv.writeOwned(
            lab.slaveIni,
            ini.replacingOccurrences(of: "backup_datadir = no", with: "backup_datadir = yes")
                + "keep_old_datadirs = 1\n")
    }

    /// Three restores with keep_old_datadirs = 1 leave one old copy, which status reports.
    @Test func restoreKeepsOnlyTheNewestOldDataDirs() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try Self.keepOneOldDataDir(lab)
        try await lab.makeBackup()
        for round in 1...3 {
            let restore = try await lab.walmgr(["restore"])
            try #require(restore.succeeded, "restore \(round): \(restore.stderrTail)")
        }
        _ = lab.attachStandby()
        #expect(OldDataDirs.list(lab.standbyData) == ["\(lab.standbyData).1"])
        let status = try await lab.walmgr(["status", "--json"])
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
        let standby = try #require(json["standby"] as? [String: Any])
        let old = try #require(standby["old_data_dirs"] as? [String: Any])
        #expect(old["count"] as? Int == 1)
        #expect((old["size_bytes"] as? Int ?? 0) > 1_000_000)
    }

    /// With a tablespace (restored beside the standby: the master on this host uses its
    /// location), three restores with keep_old_datadirs = 1 leave one old tablespace copy, and
    /// the kept old data dir links to it, not to the restored standby's tablespace. The
    /// standby stays linked beside itself (tablespace_map is rewritten) and the master's
    /// tablespace directory is never moved.
    @Test func restoreKeepsOnlyTheNewestOldTablespaceAndLinksItFromTheOldDataDir() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try Self.keepOneOldDataDir(lab)
        let space = "\(lab.scratch)/space1"
        try FileManager.default.createDirectory(atPath: space, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(space, mode: 0o700)
        try await lab.master.psql("CREATE TABLESPACE space1 LOCATION '\(space)'")
        try await lab.master.psql(
            "CREATE TABLE spaced TABLESPACE space1 AS SELECT g FROM generate_series(1, 500) g")
        let oid = try await lab.master.psql(
            "SELECT oid FROM pg_tablespace WHERE spcname = 'space1'")
        let backups = IncrementalIntegrationTests()
        try await backups.backup(lab)
        try backups.rewriteConfigBackupPort(lab)
        for round in 1...3 {
            let restore = try await lab.walmgr(["restore"])
            try #require(restore.succeeded, "restore \(round): \(restore.stderrTail)")
        }
        let standby = lab.attachStandby()
        let restored = "\(lab.standbyData)_tblspc/\(oid)"
        #expect(OldDataDirs.list(lab.standbyData) == ["\(lab.standbyData).1"])
        #expect(OldDataDirs.tablespaceCopies(restored) == ["\(restored).1"])
        let link = try FileManager.default.destinationOfSymbolicLink(
            atPath: "\(lab.standbyData).1/pg_tblspc/\(oid)")
        #expect(link == "\(restored).1")
        let live = try FileManager.default.destinationOfSymbolicLink(
            atPath: "\(lab.standbyData)/pg_tblspc/\(oid)")
        #expect(live == restored, "tablespace_map named the master's directory")
        #expect(OldDataDirs.numbered(space).isEmpty, "the master's tablespace was moved aside")
        try await waitUntil("the standby answers") {
            try await standby.psql("SELECT count(*) FROM spaced") == "500"
        }
        #expect(try await lab.master.psql("SELECT count(*) FROM spaced") == "500")
    }
}
