import Testing
import WalCore

@Suite("ConfigLoader")
struct ConfigLoaderTests {
    private let masterText = """
        [DEFAULT]
        base = /var/lib

        [walmgr]
        master_data = %(base)s/postgresql/16/main
        slave = standby.example.com
        walmgr_data = %(base)s/walmgr
        """

    @Test("role: master_data makes a master config, otherwise a slave config")
    func roleDetection() throws {
        let master = try ConfigFixture.load(masterText)
        #expect(master.config.role == .master)
        #expect(master.warnings.isEmpty)
        let slave = try ConfigFixture.load("[walmgr]\nslave_data = /pg\n")
        #expect(slave.config.role == .slave)
        let fromDefault = try ConfigFixture.load("[DEFAULT]\nmaster_data = /pg\n[walmgr]\n")
        #expect(fromDefault.config.role == .master)
    }

    @Test("master defaults and derived directories")
    func masterDefaults() throws {
        let m = try ConfigFixture.master(masterText)
        #expect(m.masterData == "/var/lib/postgresql/16/main")
        #expect(m.masterConfig == "/var/lib/postgresql/16/main/postgresql.conf")
        #expect(m.common.completedWals == "/var/lib/walmgr/logs.complete")
        #expect(m.common.partialWals == "/var/lib/walmgr/logs.partial")
        #expect(m.common.fullBackup == "/var/lib/walmgr/data.master")
        #expect(m.common.configBackup == "/var/lib/walmgr/config.backup")
        #expect(m.common.jobName == "wal-master")
        #expect(m.common.configFile == "/etc/walmgr/wal-master.ini")
        #expect(m.loopDelay == 10 && m.useXlogFunctions && !m.compression)
        #expect(m.keepSymlinks && m.hotStandby && m.commandInterval == 0)
        #expect(m.common.sshReuseConnection && m.common.sshOptions.isEmpty)
        #expect(m.common.compressMethod == .none && m.common.keepBackups == 0)
        #expect(m.common.statusMaxArchiveAgeSeconds == 600)
        #expect(m.common.statusMaxReadyFiles == 10)
        #expect(m.slave == "standby.example.com" && !m.slaveIsLocal)
        #expect(m.masterRestartCmd == nil && m.masterBin == nil)
    }

    @Test("without walmgr_data the derived dirs are empty and need() names walmgr_data")
    func missingWalmgrData() throws {
        let s = try ConfigFixture.slave("[walmgr]\nslave_data = /pg\n")
        #expect(s.common.completedWals == "")
        #expect(s.slaveConfigDir == "/pg" && s.backupDatadir)
        #expect(s.slaveDb == "dbname=postgres" && s.common.jobName == "wal-slave")
        let error = #expect(throws: ConfigError.self) {
            try s.need(s.common.completedWals, key: "completed_wals", for: "xrestore")
        }
        #expect(
            error?.description
                == "missing key walmgr_data in /etc/walmgr/wal-slave.ini: the xrestore command "
                + "needs it; add walmgr_data = /var/lib/walmgr under [walmgr] "
                + "(or pass --set walmgr_data=...)")
    }

    @Test("need() returns present values and names key, file and command when missing")
    func need() throws {
        let m = try ConfigFixture.master(masterText)
        #expect(try m.need(m.slave, key: "slave", for: "backup") == "standby.example.com")
        #expect(try m.need(Optional(3), key: "x", for: "y") == 3)
        let error = #expect(throws: ConfigError.self) {
            try m.need(m.masterDb, key: "master_db", for: "backup")
        }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("missing key master_db in /etc/walmgr/wal-master.ini"))
        #expect(message.contains("the backup command needs it; add master_db = "))
    }

    @Test(
        "boolean words",
        arguments: [
            ("1", true), ("yes", true), ("TRUE", true), ("On", true),
            ("0", false), ("no", false), ("False", false), ("OFF", false),
        ])
    func boolWords(word: String, expected: Bool) throws {
        let m = try ConfigFixture.master(masterText + "\ncompression = \(word)\n")
        #expect(m.compression == expected)
    }

    @Test("an invalid boolean names key, file:line and the allowed words")
    func badBool() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(masterText + "\nhot_standby = maybe\n")
        }
        #expect(
            error?.description
                == "wal-master.ini:8: hot_standby must be one of 1/yes/true/on or "
                + "0/no/false/off, found \"maybe\"")
    }

    @Test(
        "bad numbers name key and line",
        arguments: [
            ("keep_backups = two", "keep_backups", "a whole number of at least 0"),
            ("keep_backups = -1", "keep_backups", "a whole number of at least 0"),
            ("loop_delay = 0", "loop_delay", "a number of seconds greater than 0"),
            ("compress_level = 3.5", "compress_level", "a whole number"),
            ("status_max_ready = 0", "status_max_ready", "a whole number of at least 1"),
        ])
    func badNumber(line: String, key: String, expected: String) {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(masterText + "\n\(line)\n")
        }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("wal-master.ini:8: \(key) must be \(expected), found"))
    }

    @Test("compress_method accepts none/zstd/lz4 and names the allowed values otherwise")
    func compressMethod() throws {
        let m = try ConfigFixture.master(masterText + "\ncompress_method = ZSTD\n")
        #expect(m.common.compressMethod == .zstd)
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(masterText + "\ncompress_method = gzip\n")
        }
        #expect(
            error?.description
                == "wal-master.ini:8: compress_method must be one of none, zstd, lz4, "
                + "found \"gzip\"")
    }

    @Test("~ expands at the start of paths only, not in host:~/x")
    func tildeExpansion() throws {
        let text = """
            [walmgr]
            slave_data = ~/data
            walmgr_data = ~
            completed_wals = standby:~/logs
            logfile = /x/~/y
            slave_config_dir = ~other/conf
            """
        let s = try ConfigFixture.slave(text)
        #expect(s.slaveData == "/home/walmgr/data")
        #expect(s.common.walmgrData == "/home/walmgr")
        #expect(s.common.partialWals == "/home/walmgr/logs.partial")
        #expect(s.common.completedWals == "standby:~/logs")
        #expect(s.common.logfile == "/x/~/y")
        #expect(s.slaveConfigDir == "~other/conf")
    }

    @Test("commands and ssh_options are split into argv; empty means unset")
    func commands() throws {
        let text =
            masterText + """

                master_restart_cmd = pg_ctlcluster 16 main restart
                periodic_command = /usr/local/bin/report "a b" $(not run)
                ssh_options = -p 2222 -o 'UserKnownHostsFile=/k h'
                """
        let m = try ConfigFixture.master(text)
        #expect(m.masterRestartCmd == ["pg_ctlcluster", "16", "main", "restart"])
        #expect(m.periodicCommand == ["/usr/local/bin/report", "a b", "$(not", "run)"])
        #expect(m.common.sshOptions == ["-p", "2222", "-o", "UserKnownHostsFile=/k h"])
        let s = try ConfigFixture.slave("[walmgr]\nslave_data = /d\narchive_command =\n")
        #expect(s.archiveCommand == nil)
    }

    @Test("an unbalanced quote in a command names key and line")
    func badCommand() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load(masterText + "\nmaster_restart_cmd = sh -c 'oops\n")
        }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("wal-master.ini:8: cannot split master_restart_cmd"))
        #expect(message.contains("unterminated single quote"))
    }

    @Test("bin dirs fall back to pg_bin; slave empty or localhost is local")
    func fallbacks() throws {
        let m = try ConfigFixture.master(masterText + "\npg_bin = /pgbin\nslave = localhost\n")
        #expect(m.masterBin == "/pgbin" && m.slaveIsLocal)
        let s = try ConfigFixture.slave("[walmgr]\npg_bin = /pgbin\n")
        #expect(s.slaveBin == "/pgbin" && s.slaveData == "")
        let empty = try ConfigFixture.master(masterText + "\nslave =\n")
        #expect(empty.slave == nil && empty.slaveIsLocal)
    }
}
