import Foundation
import Testing

@testable import WalCore

/// Faults between two network "hosts": the link cut under load, the slave's disk full, a changed
/// host key. Needs root (network namespaces, tmpfs); runs on one PostgreSQL version.
@Suite(.serialized, .enabled(if: FaultLab.networkReady))
struct FaultNetworkTests {
    @Test(arguments: FaultLab.networkBinDirs)
    func linkDownUnderLoadLosesNothing(binDir: String) async throws {
        let lab = try await FaultLab(binDir: binDir)
        defer { lab.destroy() }
        let pair = lab.pair
        try pair.master.appendConf("wal_keep_size = '1GB'")
        try await pair.setupAndRestart()
        try await pair.pgbench(["-i", "-s", "2", "-q"])
        try await pair.switchWAL()
        let bench = pair.pgbenchCommand(["-T", "14", "-c", "2"])
        let load = Task { try await TestEnv.runner.run(bench) }
        defer { load.cancel() }

        let cut = ContinuousClock.now
        try await lab.net.setLink(up: false)
        let failedBefore = try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver")
        var pending: [String] = []
        for _ in 0..<3 { pending.append(try await switchWithNewWAL(lab)) }
        try await waitUntil("the archiver reports a failure", timeout: .seconds(90)) {
            try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver") != failedBefore
        }
        let direct = try await lab.xarchive(pending[0])
        #expect(direct.status == 1, "a cut link must fail with 1: \(direct.statusText)")
        #expect(direct.stderrTail.contains("ssh to"), "\(direct.stderrTail)")
        // The outage lasts until the backlog is there, not a fixed 10 s (under CPU load the
        // archiver's retries and pgbench's start vary; a fixed time once left one .ready file).
        try await waitForBacklog(lab, since: cut)
        let backlog = lab.readySegments()
        #expect(backlog.count >= 2, "the .ready backlog grows while the link is down: \(backlog)")
        for name in pending {
            #expect(!FileManager.default.fileExists(atPath: "\(pair.completedWals)/\(name)"))
        }
        print("link down for \(ContinuousClock.now - cut), .ready backlog \(backlog.count)")
        try await lab.net.setLink(up: true)

        let benchResult = try await load.value
        #expect(benchResult.succeeded, "pgbench: \(benchResult.stderrTail)")
        let last = try await pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        try await pair.waitArchived(last, timeout: .seconds(90))
        try await waitUntil("the backlog is archived", timeout: .seconds(30)) {
            lab.readySegments().isEmpty
        }
        try expectNoGap(lab, from: pending[0], to: last)
        #expect(try lab.expectArchiveMatchesPGWAL() >= pending.count)
        lab.expectSecretNeverPrinted()
    }

    @Test(arguments: FaultLab.networkBinDirs)
    func slaveDiskFullStoresNoPartialFileAndResumes(binDir: String) async throws {
        var tmpfs = ""
        let lab = try await FaultLab(binDir: binDir) { lab in
            tmpfs = lab.pair.completedWals
            try await lab.mountTmpfs(tmpfs, megabytes: 96)
        }
        defer { lab.destroy() }
        let pair = lab.pair
        try pair.master.appendConf("wal_keep_size = '1GB'")
        // Leave room for one 16 MiB segment: the second one hits ENOSPC half-way.
        let filler = "\(tmpfs)/filler"
        try Data(count: 72 << 20).write(to: URL(fileURLWithPath: filler))
        try await pair.setupAndRestart()
        try await pair.master.psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
        try await pair.switchWAL()
        let failedBefore = try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver")
        try await pair.master.psql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g")
        let full = try await pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        try await waitUntil("the archiver reports a failure", timeout: .seconds(90)) {
            try await pair.master.psql("SELECT failed_count FROM pg_stat_archiver") != failedBefore
        }
        let direct = try await lab.xarchive(full)
        #expect(direct.status == 1, "disk full must fail with 1: \(direct.statusText)")
        #expect(direct.stderrTail.contains("No space left"), "\(direct.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: "\(pair.completedWals)/\(full)"))
        try lab.expectArchiveMatchesPGWAL()

        try FileManager.default.removeItem(atPath: filler)
        // New WAL first: a switch on an empty segment creates no .ready to wake the archiver.
        try await pair.master.psql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g")
        let next = try await pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        try await pair.waitArchived(next, timeout: .seconds(90))
        #expect(FileManager.default.fileExists(atPath: "\(pair.completedWals)/\(full)"))
        #expect(try lab.expectArchiveMatchesPGWAL() >= 2)
        lab.expectSecretNeverPrinted()
    }

    @Test(arguments: FaultLab.networkBinDirs)
    func changedHostKeyIsRefusedWithAdvice(binDir: String) async throws {
        let lab = try await FaultLab(binDir: binDir)
        defer { lab.destroy() }
        let pair = lab.pair
        try await pair.setupAndRestart()
        let first = try await pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        try await pair.waitArchived(first)
        // The operator commands report on connections made with the password-bearing conninfos
        // (master_db, primary_conninfo); their output joins the secret check below.
        for arguments in [
            ["-v", pair.masterIni, "status", "--json"], ["-v", pair.masterIni, "check"],
            ["-v", pair.slaveIni, "status", "--json"], ["-v", pair.slaveIni, "check"],
        ] {
            let result = try await lab.run(arguments)
            #expect(result.status == 0 || result.status == 1, "\(arguments): \(result.statusText)")
        }

        try await lab.closeSSHMaster()
        lab.sshd.stop()
        for file in ["host_key", "host_key.pub"] {
            try FileManager.default.removeItem(atPath: "\(lab.sshd.dir)/\(file)")
        }
        try await TestEnv.run(
            Command(
                "/usr/bin/ssh-keygen",
                ["-q", "-t", "ed25519", "-N", "", "-f", "\(lab.sshd.dir)/host_key"]))
        try await lab.sshd.start()
        try await pair.master.psql("CREATE TABLE after_key_change AS SELECT 1 AS x")
        let name = try await pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        let refused = try await lab.xarchive(name)
        #expect(refused.status == 1, "\(refused.statusText)")
        #expect(refused.stderrTail.contains("host key"), "\(refused.stderrTail)")
        #expect(refused.stderrTail.contains("ssh-keygen -R"), "says how to accept the new key")
        #expect(!FileManager.default.fileExists(atPath: "\(pair.completedWals)/\(name)"))
        if Walmgr.handlers["check"] != nil {
            let check = try await lab.run([pair.masterIni, "check"])
            #expect(check.status != 0)
            #expect(
                check.output.contains("ssh-keygen -R") || check.stderrTail.contains("ssh-keygen -R")
            )
        }
        lab.expectSecretNeverPrinted()
    }

    /// Writes a row, then switches WAL: the switch always closes a segment with new WAL in it,
    /// even when pgbench has not written yet (on an idle segment pg_switch_wal does nothing and
    /// names the segment archived before the cut). Returns that segment's name.
    func switchWithNewWAL(_ lab: FaultLab) async throws -> String {
        try await lab.pair.master.psql(
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())")
        return try await lab.pair.master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
    }

    /// Waits (up to 90 s) until at least 2 segments wait in archive_status as `.ready`, closing
    /// a segment with ``switchWithNewWAL(_:)`` every 2 s until then. Without that backlog the
    /// case proves nothing, so it fails saying so.
    func waitForBacklog(_ lab: FaultLab, since cut: ContinuousClock.Instant) async throws {
        var lastSwitch = ContinuousClock.now
        do {
            try await waitUntil("2 or more .ready segments", timeout: .seconds(90)) {
                if lab.readySegments().count >= 2 { return true }
                if ContinuousClock.now - lastSwitch >= .seconds(2) {
                    lastSwitch = ContinuousClock.now
                    _ = try await switchWithNewWAL(lab)
                }
                return false
            }
        } catch {
            throw HarnessError(
                "backlog never built: \(lab.readySegments()) .ready after "
                    + "\(ContinuousClock.now - cut) with the link down; the case needs 2 or "
                    + "more (\(error))")
        }
    }

    /// Every segment from `first` to `last` is in the archive.
    func expectNoGap(_ lab: FaultLab, from first: String, to last: String) throws {
        let size: UInt64 = 16 << 20
        let a = try #require(WALSegment(name: first, size: size))
        let b = try #require(WALSegment(name: last, size: size))
        var missing: [String] = []
        for number in a.number...b.number {
            let name = WALSegment(timeline: a.timeline, number: number, size: size).name
            if !FileManager.default.fileExists(atPath: "\(lab.pair.completedWals)/\(name)") {
                missing.append(name)
            }
        }
        #expect(missing.isEmpty, "segments lost: \(missing)")
    }
}
