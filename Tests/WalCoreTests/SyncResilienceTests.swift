import Foundation
import Testing

@testable import WalCore

/// syncdaemon over a real sshd: an outage of the slave's sshd is survived, and the next round
/// after it catches up; `-s` stops the daemon cleanly.
@Suite(.serialized) struct SyncResilienceTests {
    @Test(.enabled(if: SSHD.isAvailable))
    func syncdaemonRecoversFromSSHDOutage() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let side = try TestEnv.scratchDir(prefix: "wsd")
        defer { TestEnv.removeScratch(side) }
        let pidfile = "\(side)/syncdaemon.pid"
        let logfile = "\(side)/syncdaemon.log"
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(
                binDir: binDir, sshd: sshd,
                masterExtra: "loop_delay = 1\npidfile = \(pidfile)\nlogfile = \(logfile)\n")
            var daemon: pid_t?
            defer {
                if let daemon { TestEnv.terminate(daemon, signal: SIGKILL) }
                pair.destroy()
            }
            func log() -> String { (try? String(contentsOfFile: logfile, encoding: .utf8)) ?? "" }
            try await pair.setupAndRestart()
            let started = try await pair.run([pair.masterIni, "syncdaemon", "-d"])
            try #require(started.succeeded, "\(started.stderrTail)")
            let running: pid_t = try #require(DaemonControl.lockedPid(pidfile: pidfile))
            daemon = running
            try await pair.master.psql("CREATE TABLE r AS SELECT 1 AS x")
            try await waitSynced(pair, timeout: .seconds(90))

            sshd.stop()
            try await closeSSHControlMaster(sshd)
            try await pair.master.psql("INSERT INTO r SELECT generate_series(1, 1000)")
            try await waitUntil("a failed round in the log") { log().contains("sync round failed") }
            try await Task.sleep(for: .seconds(5))  // the outage itself is what is tested
            try await sshd.start()
            try await pair.master.psql("INSERT INTO r VALUES (2)")
            try await waitSynced(pair, timeout: .seconds(90))
            #expect(!TestEnv.processGone(running), "the daemon never exits on a network fault")

            let stop = try await pair.run([pair.masterIni, "syncdaemon", "-s"])
            #expect(stop.succeeded)
            try await waitUntil("syncdaemon exits after -s") { TestEnv.processGone(running) }
            daemon = nil
            #expect(!FileManager.default.fileExists(atPath: pidfile))
            #expect(log().contains("syncdaemon stopped"), "\(log())")
        }
    }

    /// Waits until the slave's partial copy of the current segment matches pg_wal up to the
    /// current write position.
    func waitSynced(_ pair: WalmgrPair, timeout: Duration) async throws {
        let row = try await pair.master.psql(
            "SELECT pg_walfile_name(pg_current_wal_lsn()) || ' ' || "
                + "((pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint % 16777216)")
        let parts = row.split(separator: " ").map(String.init)
        let name = parts[0]
        let offset = Int(parts[1]) ?? 0
        let source = "\(pair.master.dataDir)/pg_wal/\(name)"
        let copy = "\(pair.walmgrData)/logs.partial/\(name)"
        try await waitUntil("\(copy) to hold \(offset) bytes of \(source)", timeout: timeout) {
            let want = try Data(contentsOf: URL(fileURLWithPath: source)).prefix(offset)
            let have = try Data(contentsOf: URL(fileURLWithPath: copy)).prefix(offset)
            return want == have
        }
    }
}
