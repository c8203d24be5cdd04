import Foundation
import Testing
import WalCore

/// `walmgr wal-slave.ini receive -d` on the standby host against the master in the other
/// network namespace, with the configs `--init-master`/`--init-slave` wrote and the password
/// from the README's `.pgpass` line: what a user does, not slave = localhost with trust.
@Suite(.serialized) struct TwoHostReceiveTests {
    var slaveIni: String { TwoHostLab.slaveIni }

    @Test(.enabled(if: TwoHostTests.enabled), arguments: TestEnv.pgBinDirs)
    func receiveOnTheStandbyHost(binDir: String) async throws {
        let lab = try await TwoHostLab(binDir: binDir)
        defer { lab.destroy() }
        try await lab.quickStart(before: "6.")
        let started = try await lab.walmgr(lab.slave, [slaveIni, "receive", "-d"])
        #expect(
            started.succeeded && started.text.contains("receive started as pid"), "\(started.text)")
        defer { stopReceiver(lab) }
        try await waitUntil("the master streams to the receiver (\(log(lab)))") {
            try await lab.master.psql(
                "SELECT count(*) FROM pg_stat_replication WHERE usename = 'replicator' "
                    + "AND application_name LIKE 'walmgr_%' AND state = 'streaming'") == "1"
        }
        try await receivedSegment(lab)
        try await statusShowsTheReceiver(lab)
        try await checkNamesTheHBAFix(lab)
        let stop = try await lab.walmgr(lab.slave, [slaveIni, "receive", "-s"])
        #expect(stop.succeeded, "\(stop.text)")
        let pidfile = lab.outside("\(TwoHostLab.configDir)/wal-slave.pid", on: lab.slave)
        try await waitUntil("the receiver stopped and removed \(pidfile)") {
            !FileManager.default.fileExists(atPath: pidfile)
        }
        #expect(log(lab).contains("receiver stopped"), "\(log(lab))")
        let json = try await statusJSON(lab)
        let receiver = try #require(json["receiver"] as? [String: Any], "\(json)")
        #expect(receiver["running"] as? Bool == false && receiver["state"] as? String == "stopped")
        try await waitUntil("the master's walsender for the receiver is gone") {
            try await lab.master.psql("SELECT count(*) FROM pg_stat_replication") == "0"
        }
    }

    /// A segment the master fills and switches arrives in the slave's logs.complete through
    /// the receiver (archiving is on too; the receiver stores it first or finds it identical).
    func receivedSegment(_ lab: TwoHostLab) async throws {
        _ = try await lab.master.psql(
            "CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
                + "FROM generate_series(1, 2000) g")
        let name = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        _ = try await lab.master.psql("SELECT pg_switch_wal()")
        let complete = "\(Host.home)/walshipping/logs.complete"
        try await waitUntil("\(name) is in the slave's logs.complete (\(log(lab)))") {
            lab.names(in: complete, on: lab.slave).contains(name)
        }
        #expect(log(lab).contains("created the physical replication slot"), "\(log(lab))")
    }

    /// `status --json` and `status` on the slave: running, received and flushed LSN, lag.
    func statusShowsTheReceiver(_ lab: TwoHostLab) async throws {
        let end = try await lab.master.psql("SELECT pg_current_wal_lsn()")
        try await waitUntil("status shows the receiver flushed \(end)") {
            let receiver = try await statusJSON(lab)["receiver"] as? [String: Any] ?? [:]
            guard let flushed = (receiver["flushed_lsn"] as? String).flatMap(LSN.init),
                let want = LSN(end)
            else { return false }
            return receiver["running"] as? Bool == true && flushed >= want
        }
        let receiver = try #require(try await statusJSON(lab)["receiver"] as? [String: Any])
        #expect(receiver["state"] as? String == "streaming", "\(receiver)")
        #expect((receiver["received_lsn"] as? String).flatMap(LSN.init) != nil, "\(receiver)")
        #expect(receiver["lag_bytes"] is Int && receiver["lag_seconds"] is Int, "\(receiver)")
        let text = try await lab.walmgr(lab.slave, [slaveIni, "status"]).text
        #expect(text.contains("receiver") && text.contains("running"), "\(text)")
        #expect(text.contains("lag"), "\(text)")
    }

    /// `check` on the slave proves the receiver's connection; with the master's pg_hba.conf
    /// refusing replication it fails naming the fix, and the fix (setup --hba) works.
    func checkNamesTheHBAFix(_ lab: TwoHostLab) async throws {
        let line = "streaming connection"
        let good = try await lab.walmgr(lab.slave, [slaveIni, "check"]).text
        #expect(good.contains("OK   \(line)"), "\(good)")
        let hba = try String(contentsOfFile: lab.masterHBA, encoding: .utf8)
        let kept = hba.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("replicator") }
        try kept.joined(separator: "\n").write(
            toFile: lab.masterHBA, atomically: false, encoding: .utf8)
        try await reload(lab) { _ = try await lab.master.psql("SELECT pg_reload_conf()") }
        let refused = try await lab.walmgr(lab.slave, [slaveIni, "check"])
        #expect(!refused.succeeded)
        let fail = refused.text.split(separator: "\n").first { $0.contains("FAIL \(line)") }
        #expect(fail?.contains("pg_hba.conf has no line") == true, "\(refused.text)")
        #expect(fail?.contains("setup --hba") == true, "\(refused.text)")
        try await reload(lab) {
            let fix = try await lab.walmgr(lab.master, [TwoHostLab.masterIni, "setup", "--hba"])
            #expect(fix.succeeded, "\(fix.text)")
        }
        let fixed = try await lab.walmgr(lab.slave, [slaveIni, "check"]).text
        #expect(fixed.contains("OK   \(line)"), "\(fixed)")
    }

    /// Runs `change` (which reloads the master's config) and waits until a new connection
    /// sees the reload: pg_reload_conf() only signals the postmaster.
    func reload(_ lab: TwoHostLab, _ change: () async throws -> Void) async throws {
        let before = try await lab.master.psql("SELECT pg_conf_load_time()")
        try await change()
        try await waitUntil("the master reloaded its config") {
            try await lab.master.psql("SELECT pg_conf_load_time() > '\(before)'") == "t"
        }
    }

    /// `status --json` on the slave, parsed.
    func statusJSON(_ lab: TwoHostLab) async throws -> [String: Any] {
        let result = try await lab.slave.run(["walmgr", slaveIni, "status", "--json"])
        let json = try? JSONSerialization.jsonObject(with: Data(result.stdout))
        return try #require(json as? [String: Any], "\(result.output)\(result.stderrTail)")
    }

    /// The slave's walmgr log (the receiver logs there with -d).
    func log(_ lab: TwoHostLab) -> String {
        let file = lab.outside("\(TwoHostLab.configDir)/wal-slave.log", on: lab.slave)
        return String((try? String(contentsOfFile: file, encoding: .utf8))?.suffix(3000) ?? "")
    }

    /// Kills a receiver a failed test left running (by its pidfile's pid).
    func stopReceiver(_ lab: TwoHostLab) {
        let pidfile = lab.outside("\(TwoHostLab.configDir)/wal-slave.pid", on: lab.slave)
        if let text = try? String(contentsOfFile: pidfile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            TestEnv.terminate(pid, signal: SIGKILL, timeout: .seconds(5))
        }
    }
}
