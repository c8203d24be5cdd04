import Foundation
import Testing

@testable import WalCore

/// `receive` against real servers: segment boundaries, crash and resume, master restart,
/// synchronous commits, a foreign cluster.
@Suite(.serialized) struct ReceiveIntegrationTests {
    /// pg_switch_wal while streaming: every segment the receiver completes is byte-identical to
    /// the master's pg_wal copy, and the open segment stays a `.partial`.
    @Test(arguments: TestEnv.pgBinDirs)
    func segmentBoundaryMidStream(binDir: String) async throws {
        let lab = try await ReceiveLab(binDir: binDir)
        defer { lab.destroy() }
        try lab.startReceiver()
        try await lab.waitStreaming()
        var names: [String] = []
        for _ in 0..<3 { names.append(try await lab.fillAndSwitch()) }
        for name in names { try await lab.waitCompleted(name) }
        for name in names { #expect(try lab.identicalToMaster(name), "\(name)") }
        let slots = try await lab.master.psql(
            "SELECT slot_type FROM pg_replication_slots WHERE slot_name = '\(ReceiveLab.slot)'")
        #expect(slots == "physical", "the slot is created")
        try await lab.master.psql("INSERT INTO t VALUES (0)")
        let current = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        try await waitUntil(
            "the open segment \(current) is a .partial: "
                + "\((try? FileManager.default.contentsOfDirectory(atPath: lab.partialWals)) ?? [])"
        ) {
            FileManager.default.fileExists(atPath: "\(lab.partialWals)/\(current).partial")
        }
        try await waitUntil("status shows the receiver caught up") {
            let status = try await lab.receiverStatus().receiver
            return status["running"] as? Bool == true && status["lag_bytes"] as? Int == 0
                && status["flushed_lsn"] as? String != "0/0"
        }
        let running = try await lab.receiverStatus()
        #expect(running.receiver["slot"] as? String == ReceiveLab.slot)
        #expect(running.receiver["synchronous"] as? Bool == false)
        #expect(running.receiver["last_message_time"] is String, "\(running.receiver)")
        lab.stopReceiver()
        #expect(lab.log().contains("receiver stopped"), "\(lab.log())")
        let stopped = try await lab.receiverStatus()
        #expect(stopped.receiver["running"] as? Bool == false)
        #expect(!stopped.problems.contains { $0.contains("WAL receiver") }, "\(stopped.problems)")
        let state = try #require(ReceiveState.read(partialWals: lab.partialWals))
        #expect(state.state == "stopped" && state.slot == ReceiveLab.slot)
    }

    /// kill -9 mid-stream, more WAL, then a new receiver: it resumes from its `.partial` and the
    /// completed segments are contiguous and each byte-identical to the master's.
    @Test(arguments: TestEnv.pgBinDirs)
    func killNineThenResumeWithoutGap(binDir: String) async throws {
        let lab = try await ReceiveLab(binDir: binDir)
        defer { lab.destroy() }
        try lab.startReceiver()
        try await lab.waitStreaming()
        try await lab.waitCompleted(try await lab.fillAndSwitch())
        try await lab.master.psql(
            "INSERT INTO t SELECT g, repeat('y', 200) FROM generate_series(1, 3000) g")
        let open = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        try await waitUntil("the open segment has a .partial") {
            FileManager.default.fileExists(atPath: "\(lab.partialWals)/\(open).partial")
        }
        lab.stopReceiver(signal: SIGKILL)
        let dead = try await lab.receiverStatus()
        #expect(dead.receiver["running"] as? Bool == false)
        #expect(
            dead.problems.contains { $0.contains("gone without a clean stop") }, "\(dead.problems)")
        var names = [try await lab.fillAndSwitch(rows: 5000), try await lab.fillAndSwitch()]
        try lab.startReceiver()
        names.append(try await lab.fillAndSwitch())
        for name in names { try await lab.waitCompleted(name) }
        let segments = lab.completedSegments()
        let numbers = segments.compactMap { WALSegment(name: $0, size: 16 << 20)?.number }
        #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "no gap: \(segments)")
        #expect(segments.contains(open))
        for name in segments { #expect(try lab.identicalToMaster(name), "\(name)") }
    }

    /// A fast restart of the master: the receiver reconnects and misses nothing.
    @Test(arguments: TestEnv.pgBinDirs)
    func masterRestartIsSurvived(binDir: String) async throws {
        let lab = try await ReceiveLab(binDir: binDir)
        defer { lab.destroy() }
        try lab.startReceiver()
        try await lab.waitStreaming()
        var names = [try await lab.fillAndSwitch()]
        try await lab.master.psql("INSERT INTO t SELECT g, 'z' FROM generate_series(1, 1000) g")
        try await lab.master.restart()
        names.append(try await lab.fillAndSwitch())
        try await lab.waitStreaming()
        names.append(try await lab.fillAndSwitch())
        for name in names { try await lab.waitCompleted(name) }
        let segments = lab.completedSegments()
        let numbers = segments.compactMap { WALSegment(name: $0, size: 16 << 20)?.number }
        #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "no gap: \(segments)")
        for name in segments { #expect(try lab.identicalToMaster(name), "\(name)") }
        #expect(lab.log().contains("reconnecting"), "\(lab.log())")
    }

    /// A slave whose WAL came from another cluster refuses to receive, naming both identifiers.
    @Test func otherClusterIsRefused() async throws {
        let lab = try await ReceiveLab(binDir: try #require(TestEnv.defaultBinDir))
        defer { lab.destroy() }
        var header = [UInt8](repeating: 0, count: 16 << 20)
        header[2] = 0x02  // XLP_LONG_HEADER
        for i in 0..<8 {
            header[24 + i] = UInt8(truncatingIfNeeded: UInt64(1234567890123) >> (8 * i))
        }
        let fake = "\(lab.completedWals)/000000010000000000000001"
        #expect(FileManager.default.createFile(atPath: fake, contents: Data(header)))
        try TestEnv.chownToRunAsUser(fake, mode: 0o600)
        let result = try await TestEnv.runner.run(
            Command(
                lab.walmgr, [lab.slaveIni, "receive"], workingDirectory: lab.scratch,
                user: TestEnv.runAsUser), input: .none, timeout: .seconds(60))
        let sysid = try await lab.master.psql("SELECT system_identifier FROM pg_control_system()")
        #expect(result.status == 1)
        #expect(result.stderrTail.contains("refusing to receive"), "\(result.stderrTail)")
        #expect(result.stderrTail.contains(sysid) && result.stderrTail.contains("1234567890123"))
        #expect(result.stderrTail.contains(fake))
        let slots = try await lab.master.psql("SELECT count(*) FROM pg_replication_slots")
        #expect(slots == "0", "nothing created on a foreign master")
    }

    /// receive_synchronous with the receiver in synchronous_standby_names: a commit waits
    /// (SyncRep) while the receiver is stopped and returns once it runs and flushes again.
    @Test(arguments: TestEnv.pgBinDirs)
    func synchronousCommitWaitsForTheReceiver(binDir: String) async throws {
        let lab = try await ReceiveLab(
            binDir: binDir, slaveExtra: "receive_synchronous = on\nreceive_status_interval = 600\n",
            masterConf: "synchronous_standby_names = 'FIRST 1 (\(ReceiveLab.slot))'\n"
                + "wal_sender_timeout = 0\n")
        defer { lab.destroy() }
        try lab.startReceiver()
        try await lab.waitStreaming()
        let sync = try await lab.master.psql(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = '\(ReceiveLab.slot)'"
        )
        #expect(sync == "sync")
        try await lab.master.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        lab.stopReceiver()
        let argv = TestEnv.asRunUser([
            "\(binDir)/psql", "-XAtq", "-h", lab.master.socketDir, "-p", "\(lab.master.port)",
            "-U", "postgres", "-d", "postgres", "-c", "INSERT INTO t VALUES (2)",
        ])
        let commit = try TestEnv.spawn(argv, cwd: lab.scratch)
        defer {
            if commit.isRunning { TestEnv.terminate(commit.processIdentifier, signal: SIGKILL) }
        }
        try await waitUntil("the commit waits for the synchronous receiver") {
            try await lab.master.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") == "1"
        }
        #expect(commit.isRunning, "the commit must not return while the receiver is down")
        try lab.startReceiver()
        // Neither the status interval (600 s) nor the server (wal_sender_timeout 0 asks for no
        // reply) makes the receiver answer within the wait: only synchronous mode's
        // flush-then-reply does. The wait is long for a busy machine, not a timing claim.
        try await waitUntil(
            "the commit returns once the receiver flushed (\(lab.log()))", timeout: .seconds(120)
        ) { !commit.isRunning }
        #expect(commit.terminationStatus == 0)
        #expect(try await lab.master.psql("SELECT count(*) FROM t") == "2")
    }

    /// check probes receive_conninfo when it names another server than primary_conninfo.
    @Test func checkProbesTheReceiverConnection() async throws {
        let port = try TestEnv.freePort()
        let lab = try await ReceiveLab(
            binDir: try #require(TestEnv.defaultBinDir),
            slaveExtra:
                "receive_conninfo = host=127.0.0.1 port=\(port) user=postgres connect_timeout=2\n")
        defer { lab.destroy() }
        let result = try await lab.walmgr(["check"])
        let line = result.output.split(separator: "\n").first { $0.contains("receiver connection") }
        #expect(line?.contains("unreachable") == true, "\(result.output)")
    }

    /// The receiver streams from a standby that is then promoted: it stores 00000002.history
    /// and follows timeline 2, whose segments match the new master's pg_wal.
    @Test(arguments: TestEnv.pgBinDirs)
    func followsATimelineSwitch(binDir: String) async throws {
        let port = try TestEnv.freePort()
        let lab = try await ReceiveLab(
            binDir: binDir,
            slaveExtra: "receive_conninfo = host=127.0.0.1 port=\(port) user=postgres\n")
        defer { lab.destroy() }
        let standby = try await lab.startStandby(port: port)
        try lab.startReceiver()
        try await waitUntil("the receiver streams from the standby (\(lab.log()))") {
            try await standby.psql(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                    + "'\(ReceiveLab.slot)'") == "1"
        }
        let old = try await lab.fillAndSwitch()
        try await lab.waitCompleted(old)
        try await lab.master.psql("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 500) g")
        let end = try await lab.master.psql("SELECT pg_current_wal_lsn()")
        try await waitUntil("the standby replayed \(end)") {
            try await standby.psql("SELECT pg_last_wal_replay_lsn() >= '\(end)'") == "t"
        }
        lab.master.stop(mode: "immediate")
        try await TestEnv.run(
            standby.pgCommand("pg_ctl", ["promote", "-w", "-D", standby.dataDir]))
        try await standby.psql("INSERT INTO t SELECT g, 'after' FROM generate_series(1, 2000) g")
        let name = try await standby.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        try await standby.psql("SELECT pg_switch_wal()")
        #expect(name.hasPrefix("00000002"))
        try await lab.waitCompleted(name)
        #expect(FileManager.default.fileExists(atPath: "\(lab.completedWals)/00000002.history"))
        #expect(
            try FileCompare.identical(
                "\(lab.completedWals)/\(name)", "\(standby.dataDir)/pg_wal/\(name)"))
        #expect(try lab.identicalToMaster(old))
        #expect(lab.log().contains("timeline 2 starts at"), "the COPY's end is followed")
    }

    /// -d starts the receiver in the background with its pidfile, a second one is refused,
    /// -s stops it cleanly (pidfile gone, state "stopped").
    @Test func daemonStartsRefusesASecondAndStops() async throws {
        let lab = try await ReceiveLab(binDir: try #require(TestEnv.defaultBinDir))
        let pidfile = "\(lab.scratch)/run/receive.pid"
        defer {
            if let pid = DaemonControl.lockedPid(pidfile: pidfile) {
                TestEnv.terminate(pid, signal: SIGKILL)
            }
            lab.destroy()
        }
        let logfile = "\(lab.scratch)/log/receive.log"
        let overrides = ["--set", "pidfile=\(pidfile)", "--set", "logfile=\(logfile)"]
        let started = try await lab.walmgr(overrides + ["receive", "-d"])
        #expect(started.status == 0, "\(started.stderrTail)")
        #expect(started.output.contains("receive started as pid"), "\(started.output)")
        try await lab.waitStreaming()
        let second = try await lab.walmgr(overrides + ["receive"])
        #expect(second.status == 1)
        #expect(second.stderrTail.contains("receive already runs as pid"), "\(second.stderrTail)")
        let stop = try await lab.walmgr(overrides + ["receive", "-s"])
        #expect(stop.status == 0)
        try await waitUntil("the receiver stopped and removed its pidfile") {
            !FileManager.default.fileExists(atPath: pidfile)
        }
        let log = try String(contentsOfFile: logfile, encoding: .utf8)
        #expect(log.contains("receiver stopped"), "\(log)")
        #expect(ReceiveState.read(partialWals: lab.partialWals)?.state == "stopped")
    }

    /// The link between the hosts goes down while the master writes, then comes back: the
    /// receiver notices the silence, reconnects once it can, and the segments have no gap.
    @Test(.enabled(if: NetNS.isAvailable), arguments: TestEnv.pgBinDirs)
    func linkCutAndHealLosesNothing(binDir: String) async throws {
        let ns = try await NetNS()
        defer { ns.destroy() }
        let lab = try await ReceiveLab(
            binDir: binDir,
            masterConf: "listen_addresses = '127.0.0.1,\(ns.masterAddress)'\n"
                + "wal_sender_timeout = '5s'\n",
            masterHBA: "host replication postgres \(ns.slaveAddress)/32 trust")
        defer { lab.destroy() }
        try lab.appendToIni(
            "receive_conninfo = host=\(ns.masterAddress) port=\(lab.master.port) user=postgres "
                + "connect_timeout=3")
        try lab.startReceiver(launcher: ns.launcher)
        try await lab.waitStreaming()
        var names = [try await lab.fillAndSwitch()]
        try await lab.waitCompleted(names[0])
        try await ns.setLink(up: false)
        names.append(try await lab.fillAndSwitch())
        names.append(try await lab.fillAndSwitch())
        try await waitUntil("the receiver notices the cut (\(lab.log()))", timeout: .seconds(90)) {
            lab.log().contains("reconnecting")
        }
        try await ns.setLink(up: true)
        names.append(try await lab.fillAndSwitch())
        for name in names { try await lab.waitCompleted(name) }
        let segments = lab.completedSegments()
        let numbers = segments.compactMap { WALSegment(name: $0, size: 16 << 20)?.number }
        #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "\(segments)")
        for name in segments { #expect(try lab.identicalToMaster(name), "\(name)") }
    }

    /// What boot calls: SIGTERM, then wait; everything the receiver had written is flushed
    /// (its final flush position covers what the master saw it write).
    @Test func stopForBootFlushesWhatTheReceiverHolds() async throws {
        let lab = try await ReceiveLab(binDir: try #require(TestEnv.defaultBinDir))
        defer { lab.destroy() }
        let receiver = try lab.startReceiver()
        try await lab.waitStreaming()
        try await lab.master.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        let end = try await lab.master.psql("SELECT pg_current_wal_lsn()")
        try await waitUntil("the receiver wrote \(end)") {
            try await lab.master.psql(
                "SELECT write_lsn >= '\(end)' FROM pg_stat_replication") == "t"
        }
        let config = try #require(
            try ConfigLoader.load(path: lab.slaveIni, overrides: []).config.slave)
        let stopped = try await ReceiveCommand.stopForBoot(config, log: Log(quiet: true))
        #expect(stopped == receiver.processIdentifier)
        let state = try #require(ReceiveState.read(partialWals: lab.partialWals))
        #expect(state.state == "stopped")
        #expect(try #require(LSN(state.flushed)) >= #require(LSN(end)), "\(state)")
        #expect(try await ReceiveCommand.stopForBoot(config, log: Log(quiet: true)) == nil)
    }

    /// Under a load that never lets the stream pause, status updates still go out every
    /// interval: the master's view of the receiver's flush position keeps advancing.
    @Test func repliesFlowUnderContinuousLoad() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let lab = try await ReceiveLab(binDir: binDir)
        defer { lab.destroy() }
        try await TestEnv.run(
            lab.master.pgCommand(
                "pgbench",
                [
                    "-i", "-s", "5", "-h", lab.master.socketDir, "-p", "\(lab.master.port)",
                    "-U", "postgres", "postgres",
                ]))
        try lab.startReceiver()
        try await lab.waitStreaming()
        let load = try TestEnv.spawn(
            TestEnv.asRunUser([
                "\(binDir)/pgbench", "-n", "-c", "2", "-T", "60", "-h", lab.master.socketDir,
                "-p", "\(lab.master.port)", "-U", "postgres", "postgres",
            ]), cwd: lab.scratch)
        defer { TestEnv.terminate(load.processIdentifier, signal: SIGKILL) }
        try await waitUntil("pgbench writes") {
            try await lab.master.psql("SELECT count(*) FROM pgbench_history") != "0"
        }
        let mark = try await lab.master.psql("SELECT pg_current_wal_lsn()")
        try await waitUntil("the reported flush passes \(mark) under load", timeout: .seconds(30)) {
            try await lab.master.psql(
                "SELECT flush_lsn >= '\(mark)' FROM pg_stat_replication") == "t"
        }
        #expect(load.isRunning, "the load was still running")
    }
}
