import Foundation
import Testing

@testable import WalCore

/// boot on real servers: it promotes only slave_data's server, does not outrun a syncdaemon
/// still writing partial_wals, and never serves a partial shorter than what streaming gave.
@Suite(.serialized) struct BootIntegrationTests {
    /// After a failed restore slave_data is stopped, and slave_db reaches the master: boot
    /// refuses (it once printed "already promoted" and exited 0), naming both data dirs.
    @Test func refusesAServerThatIsNotSlaveData() async throws {
        let lab = try await StandbyLab(
            binDir: try #require(TestEnv.defaultBinDir), streaming: true)
        defer { lab.destroy() }
        try await lab.makeBackup()
        let standby = try await lab.restoreStandby()
        standby.stop(mode: "fast")
        try appendSlaveIni(lab, "slave_db = \(lab.master.conninfo)")

        let boot = try await lab.walmgr(["boot"])
        #expect(boot.status == 1, "\(boot.output)")
        #expect(!boot.output.contains("already promoted"))
        let text = boot.stderrTail
        #expect(text.contains("data_directory \(lab.master.dataDir)"), "\(text)")
        #expect(text.contains(lab.standbyData) && text.contains("no postmaster running"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.completedWals)/STOP"))
        #expect(
            try await lab.master.psql("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")
                == "00000001", "the master is untouched")
        #expect(!standby.isRunning)
    }

    /// A syncdaemon stand-in writes partial_wals every 0.2 s. First it never stops: boot gives
    /// up after 10 × boot_sync_quiet with exit 1 and the standby still in recovery. Then it
    /// stops after 8 s: boot promotes only after the last write (it once promoted 0.4 s before
    /// syncdaemon shipped the final partial, losing 215 acknowledged commits).
    @Test func waitsUntilPartialWalsIsQuiet() async throws {
        let lab = try await StandbyLab(
            binDir: try #require(TestEnv.defaultBinDir), streaming: false)
        defer { lab.destroy() }
        try await lab.prepareArchiveOnlyStandby()
        let standby = lab.attachStandby()
        try appendSlaveIni(lab, "boot_sync_quiet = 2")
        let file = "\(lab.walmgrData)/logs.partial/0000000100000000000000FF"

        let endless = try Self.writer(file, rounds: 1_000_000)
        let started = ContinuousClock.now
        let refused = try await lab.walmgr(["boot"])
        endless.terminate()
        try await TestEnv.waitExit(endless)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.stderrTail.contains("still changed"), "\(refused.stderrTail)")
        #expect(ContinuousClock.now - started < .seconds(60), "bounded by 10 × boot_sync_quiet")
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "t")
        #expect(!FileManager.default.fileExists(atPath: "\(lab.completedWals)/STOP"))

        // 8 s of writes: with 1.6 s, a boot that started late under load (CI, two burn loops)
        // first looked after the writes had stopped and rightly did not wait.
        let finite = try Self.writer(file, rounds: 40)
        let boot = try await lab.walmgr(["boot"])
        try await TestEnv.waitExit(finite)
        let lastWrite = try Self.modified(file)
        #expect(boot.succeeded, "boot: \(boot.stderrTail)\n\(standby.logTail())")
        let history = try FileManager.default.attributesOfItem(
            atPath: "\(lab.standbyData)/pg_wal/00000002.history")
        let promotedAt = try #require(history[.modificationDate] as? Date)
        #expect(promotedAt >= lastWrite, "promoted at \(promotedAt), last write \(lastWrite)")
        #expect(boot.stderrTail.contains("waiting until it is unchanged"), "\(boot.stderrTail)")
    }

    /// A streaming standby holds more of the open segment than syncdaemon's partial: boot must
    /// not serve the partial (PostgreSQL once stopped with "PANIC: invalid magic number 0000"
    /// in 3 of 3 trials), and the promoted server has every row streaming delivered.
    @Test(arguments: TestEnv.pgBinDirs)
    func aShortPartialNeverCrashesAStreamingStandby(binDir: String) async throws {
        let (lab, standby) = try await streamingStandbyWith100Rows(binDir)
        defer { lab.destroy() }
        let shortEnd = try #require(LSN(try await lab.master.psql("SELECT pg_current_wal_lsn()")))
        for id in 101...300 { try await lab.master.psql("INSERT INTO t VALUES (\(id))") }
        let row = try await lab.master.psql(
            "SELECT pg_walfile_name(pg_current_wal_lsn()) || ' ' || pg_current_wal_lsn()")
        let parts = row.split(separator: " ").map(String.init)
        let name = parts[0]
        try #require(name == (try await lab.master.psql("SELECT pg_walfile_name('\(shortEnd)')")))
        try await waitUntil("the standby received everything") {
            try await standby.psql("SELECT pg_last_wal_receive_lsn() >= '\(parts[1])'") == "t"
        }
        #expect(try await standby.psql("SELECT count(*) FROM t") == "300")

        // syncdaemon's partial from an earlier round: the segment up to row 100, zeros after.
        try await writePartial(lab, name: name, upTo: shortEnd)
        lab.master.stop(mode: "immediate")

        let boot = try await lab.walmgr(["boot"])
        let log = serverLog(lab)
        #expect(boot.succeeded, "boot: \(boot.stderrTail)\n\(log)")
        #expect(!log.isEmpty && !log.contains("PANIC"), "\(log)")
        #expect(try await standby.psql("SELECT count(*), max(id) FROM t") == "300|300")
        #expect(try await standby.psql("SELECT pg_is_in_recovery()") == "f")
    }

    /// Streaming stopped early (the walreceiver is off) and syncdaemon's partial holds more:
    /// boot serves it, and the promoted server has the rows only the partial carried.
    @Test(arguments: TestEnv.pgBinDirs)
    func aLongerPartialAddsWhatStreamingMissed(binDir: String) async throws {
        let (lab, standby) = try await streamingStandbyWith100Rows(binDir)
        defer { lab.destroy() }
        try await waitUntil("the standby streamed 100 rows") {
            try await standby.psql("SELECT count(*) FROM t") == "100"
        }
        try await standby.psql("ALTER SYSTEM SET primary_conninfo = ''")
        try await standby.psql("SELECT pg_reload_conf()")
        try await waitUntil("the walreceiver stopped") {
            try await standby.psql("SELECT count(*) FROM pg_stat_wal_receiver") == "0"
        }
        for id in 101...300 { try await lab.master.psql("INSERT INTO t VALUES (\(id))") }
        let row = try await lab.master.psql(
            "SELECT pg_walfile_name(pg_current_wal_lsn()) || ' ' || pg_current_wal_lsn()")
        let parts = row.split(separator: " ").map(String.init)
        let end = try #require(LSN(parts[1]))
        try await writePartial(lab, name: parts[0], upTo: end)
        lab.master.stop(mode: "immediate")

        let boot = try await lab.walmgr(["boot"])
        #expect(boot.succeeded, "boot: \(boot.stderrTail)\n\(serverLog(lab))")
        #expect(try await standby.psql("SELECT count(*), max(id) FROM t") == "300|300")
    }

    /// Copies the master's pg_wal/NAME up to `end` into partial_wals, zeros after (the shape
    /// of syncdaemon's partial).
    func writePartial(_ lab: StandbyLab, name: String, upTo end: LSN) async throws {
        var data = try Data(
            contentsOf: URL(fileURLWithPath: "\(lab.master.dataDir)/pg_wal/\(name)"))
        let cut = Int(end.value % UInt64(data.count))
        data.replaceSubrange(cut..<data.count, with: Data(count: data.count - cut))
        let partial = "\(lab.walmgrData)/logs.partial/\(name)"
        try data.write(to: URL(fileURLWithPath: partial))
        try TestEnv.chownToRunAsUser(partial, mode: 0o600)
    }

    /// The log of the standby walmgr started.
    func serverLog(_ lab: StandbyLab) -> String {
        (try? String(contentsOfFile: "\(lab.standbyData)/log/walmgr-start.log", encoding: .utf8))
            ?? ""
    }

    /// Appends a line to the lab's slave ini.
    /// boot with a running `receive`: the receiver is stopped after its final flush, and the
    /// promoted archive-only standby has every row the receiver got before the master died.
    @Test func bootStopsTheReceiverAndKeepsWhatItReceived() async throws {
        let lab = try await StandbyLab(
            binDir: try #require(TestEnv.defaultBinDir), streaming: false)
        defer { lab.destroy() }
        try await lab.prepareArchiveOnlyStandby()
        let standby = lab.attachStandby()
        try appendSlaveIni(
            lab,
            "receive_conninfo = \(lab.master.tcpConninfo)\nreceive_slot = walmgr_boot\n"
                + "receive_status_interval = 1\npidfile = \(lab.scratch)/receive.pid")
        let receiver = try TestEnv.spawn(
            TestEnv.asRunUser([lab.walmgr, lab.slaveIni, "receive"]), cwd: lab.scratch,
            stderr: "\(lab.scratch)/receive.log")
        defer { TestEnv.terminate(receiver.processIdentifier, signal: SIGKILL) }
        try await lab.master.psql("INSERT INTO rpo SELECT g FROM generate_series(1, 500) g")
        let end = try await lab.master.psql("SELECT pg_current_wal_lsn()")
        try await waitUntil("the receiver flushed \(end)", timeout: .seconds(120)) {
            try await lab.master.psql(
                "SELECT flush_lsn >= '\(end)' FROM pg_stat_replication "
                    + "WHERE application_name = 'walmgr_boot'") == "t"
        }
        lab.master.stop(mode: "immediate")

        let boot = try await lab.walmgr(["boot"])
        #expect(boot.succeeded, "boot: \(boot.stderrTail)\n\(standby.logTail())")
        #expect(boot.stderrTail.contains("stopped after its final flush"), "\(boot.stderrTail)")
        try await waitUntil("the receiver exited") { !receiver.isRunning }
        #expect(try await standby.psql("SELECT count(*) FROM rpo") == "500")
    }

    /// The start both partial tests share: a streaming standby restored from a backup, with
    /// boot_sync_quiet = 2, and 100 rows in table t at the start of a fresh segment. A throw
    /// mid-way stops the servers through the lab's deinit.
    func streamingStandbyWith100Rows(_ binDir: String) async throws -> (StandbyLab, PGCluster) {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        try await lab.master.psql("CREATE TABLE t (id int PRIMARY KEY)")
        try await lab.makeBackup()
        let standby = try await lab.restoreStandby()
        try appendSlaveIni(lab, "boot_sync_quiet = 2")
        try await lab.master.psql("SELECT pg_switch_wal()")
        try await lab.master.psql("INSERT INTO t SELECT generate_series(1, 100)")
        return (lab, standby)
    }

    func appendSlaveIni(_ lab: StandbyLab, _ line: String) throws {
        let text = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        try TestEnv.writeOwned(lab.slaveIni, text + "\(line)\n")
    }

    /// A syncdaemon stand-in: a separate process appends to `file` every 0.2 s, `rounds`
    /// times. A process, not a task of this test process, so a busy test runner cannot stretch
    /// its pauses into the quiet period boot waits for.
    static func writer(_ file: String, rounds: Int) throws -> Process {
        let script =
            "i=0; while [ $i -lt \"$2\" ]; do printf x >> \"$1\"; i=$((i+1)); sleep 0.2; done"
        return try TestEnv.spawn(["/bin/sh", "-c", script, "sh", file, String(rounds)], cwd: "/")
    }

    /// The file's modification time: when the writer last wrote.
    static func modified(_ file: String) throws -> Date {
        try #require(
            try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date)
    }
}
