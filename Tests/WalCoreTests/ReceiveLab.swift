import Foundation

@testable import WalCore

/// A master (no archiving) and a slave ini whose `receive` streams from it into walmgr_data.
final class ReceiveLab {
    let master: PGCluster
    let scratch: String
    let walmgr: String
    let slaveIni: String
    let walmgrData: String
    var completedWals: String { "\(walmgrData)/logs.complete" }
    var partialWals: String { "\(walmgrData)/logs.partial" }
    var receiverLog: String { "\(scratch)/receive.log" }
    static let slot = "walmgr_test"
    private(set) var receiver: Process?
    /// A streaming standby of the master, attached so teardown always stops it.
    private(set) var standby: PGCluster?

    init(
        binDir: String, slaveExtra: String = "", masterConf: String = "", masterHBA: String = ""
    ) async throws {
        scratch = try TestEnv.scratchDir(prefix: "wmrcv")
        master = try await PGCluster(binDir: binDir, scratch: scratch, name: "master")
        walmgr = try TestEnv.walmgrBinary(in: scratch)
        walmgrData = "\(scratch)/walshipping"
        slaveIni = "\(scratch)/wal-slave.ini"
        try TestEnv.writeOwned(
            slaveIni,
            "[walmgr]\nslave_data = \(scratch)/standby\nwalmgr_data = \(walmgrData)\n"
                + "primary_conninfo = \(master.tcpConninfo)\nreceive_slot = \(Self.slot)\n"
                + "receive_status_interval = 1\n\(slaveExtra)\n")
        for dir in ["", "/logs.complete", "/logs.partial"] {
            try FileManager.default.createDirectory(
                atPath: walmgrData + dir, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(walmgrData + dir, mode: 0o700)
        }
        // The tests compare each received segment with the master's copy: keep them all (a
        // checkpoint under load recycled segment 1 before the comparison in a CI run).
        try master.appendConf("wal_keep_size = 1024\n" + masterConf)
        if !masterHBA.isEmpty {
            let hba = try FileHandle(
                forWritingTo: URL(fileURLWithPath: "\(master.dataDir)/pg_hba.conf"))
            defer { try? hba.close() }
            try hba.seekToEnd()
            try hba.write(contentsOf: Data(("\n" + masterHBA + "\n").utf8))
        }
        try await master.start()
    }

    deinit { destroy() }

    func destroy() {
        if let receiver { TestEnv.terminate(receiver.processIdentifier, signal: SIGKILL) }
        standby?.stop(mode: "immediate")
        master.stop(mode: "immediate")
        TestEnv.removeScratch(scratch)
    }

    /// Starts `walmgr receive` in the foreground (as the server's user), logging to receive.log.
    @discardableResult
    func startReceiver(launcher: [String] = []) throws -> Process {
        let process = try TestEnv.spawn(
            launcher + TestEnv.asRunUser([walmgr, "-v", slaveIni, "receive"]), cwd: scratch,
            stderr: receiverLog + ".\(Int.random(in: 0..<1_000_000))")
        receiver = process
        return process
    }

    /// Stops the receiver with `signal` and waits until it is gone.
    func stopReceiver(signal: Int32 = SIGTERM) {
        guard let receiver else { return }
        // Waits until the pid is gone (a zombie counts); Foundation reaps it on its own.
        TestEnv.terminate(receiver.processIdentifier, signal: signal)
        self.receiver = nil
    }

    /// Every receiver log so far.
    func log() -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
        return names.filter { $0.hasPrefix("receive.log.") }.sorted().compactMap {
            try? String(contentsOfFile: "\(scratch)/\($0)", encoding: .utf8)
        }.joined(separator: "\n")
    }

    /// Waits until the master shows the receiver streaming on its slot.
    func waitStreaming() async throws {
        try await waitUntil("the receiver streams (\(log()))", timeout: .seconds(60)) {
            try await master.psql(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = '\(Self.slot)' "
                    + "AND state = 'streaming'") == "1"
        }
    }

    /// Writes some WAL and switches to a new segment; returns the name of the segment it ended.
    @discardableResult
    func fillAndSwitch(rows: Int = 2000) async throws -> String {
        _ = try await master.psql(
            "CREATE TABLE IF NOT EXISTS t (id int, pad text); "
                + "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, \(rows)) g")
        let name = try await master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        _ = try await master.psql("SELECT pg_switch_wal()")
        return name
    }

    /// Waits until `name` is in completed_wals.
    func waitCompleted(_ name: String) async throws {
        try await waitUntil("\(name) is received (\(log()))", timeout: .seconds(90)) {
            FileManager.default.fileExists(atPath: "\(completedWals)/\(name)")
        }
    }

    /// Segments in completed_wals, sorted.
    func completedSegments() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: completedWals)) ?? [])
            .filter { WALName($0)?.kind == .segment }.sorted()
    }

    /// True when the received copy of `name` equals the master's pg_wal file byte for byte.
    func identicalToMaster(_ name: String) throws -> Bool {
        try FileCompare.identical("\(completedWals)/\(name)", "\(master.dataDir)/pg_wal/\(name)")
    }

    /// Runs the copied walmgr with the slave ini as the server's user.
    func walmgr(_ arguments: [String]) async throws -> ProcessResult {
        try await TestEnv.runner.run(
            Command(
                walmgr, [slaveIni] + arguments, workingDirectory: scratch, user: TestEnv.runAsUser),
            input: .none, timeout: .seconds(120))
    }

    /// `status --json`'s receiver section and problems.
    func receiverStatus() async throws -> (receiver: [String: Any], problems: [String]) {
        let result = try await walmgr(["status", "--json"])
        let json =
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        return (json?["receiver"] as? [String: Any] ?? [:], json?["problems"] as? [String] ?? [])
    }

    /// A streaming standby of the master on `port` (pg_basebackup -R), started.
    func startStandby(port: Int) async throws -> PGCluster {
        let dir = "\(scratch)/standby"
        try await TestEnv.run(
            master.pgCommand(
                "pg_basebackup",
                [
                    "-D", dir, "-R", "-X", "stream", "-c", "fast", "-h", master.socketDir,
                    "-p", "\(master.port)", "-U", "postgres",
                ]))
        let cluster = PGCluster(
            attaching: dir, binDir: master.binDir, port: port, scratch: scratch,
            version: master.version)
        standby = cluster
        try cluster.appendConf("port = \(port)\n")
        try await cluster.start()
        return cluster
    }

    /// Appends a line to the slave ini (for values known only once the master runs).
    func appendToIni(_ line: String) throws {
        let text = try String(contentsOfFile: slaveIni, encoding: .utf8)
        try TestEnv.writeOwned(slaveIni, text + line + "\n")
    }
}
