import Foundation

@testable import WalCore

/// What an RPO run saw: the commits the client got back, the crash time, the standby's rows.
struct RPOOutcome {
    /// Commit return times by id (1-based: index 0 is id 1).
    var committedAt: [ContinuousClock.Instant]
    var crashAt: ContinuousClock.Instant
    var standbyCount: Int
    var standbyMax: Int

    /// Seconds between the newest commit on the standby and the crash (the data lost).
    var secondsLost: Double {
        let last = standbyMax > 0 ? committedAt[standbyMax - 1] : nil
        let lost = crashAt - (last ?? committedAt.first ?? crashAt)
        return Double(lost.components.seconds) + Double(lost.components.attoseconds) / 1e18
    }

    /// The highest id committed more than `margin` before the crash.
    func lastCommitted(before margin: Duration) -> Int {
        committedAt.lastIndex { $0 < crashAt - margin }.map { $0 + 1 } ?? 0
    }
}

/// The sync side of a ``StandbyLab``: a master ini with master_db, a pidfile and loop_delay.
extension StandbyLab {
    var syncIni: String { "\(scratch)/wal-sync.ini" }
    var syncPidfile: String { "\(scratch)/syncdaemon.pid" }
    var syncLog: String { "\(scratch)/syncdaemon.log" }

    func writeSyncIni(loopDelay: Double) throws {
        let text = """
            [walmgr]
            master_db = \(master.conninfo)
            master_data = \(master.dataDir)
            walmgr_data = \(walmgrData)
            slave_config = \(slaveIni)
            slave_walmgr = \(walmgr)
            loop_delay = \(loopDelay)
            pidfile = \(syncPidfile)
            logfile = \(syncLog)
            """
        try TestEnv.writeOwned(syncIni, text)
    }

    /// Runs walmgr with the sync ini as the server's user.
    func sync(_ arguments: [String]) async throws -> ProcessResult {
        let command = Command(
            walmgr, [syncIni] + arguments, workingDirectory: scratch, user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(60))
    }

    /// `syncdaemon -d`; returns the daemon's pid (kill it in teardown).
    func startSyncDaemon() async throws -> pid_t {
        let started = try await sync(["syncdaemon", "-d"])
        guard started.succeeded, let pid = DaemonControl.lockedPid(pidfile: syncPidfile) else {
            throw HarnessError("syncdaemon -d failed: \(started.stderrTail)\n\(daemonLog())")
        }
        return pid
    }

    func daemonLog() -> String {
        (try? String(contentsOfFile: syncLog, encoding: .utf8)) ?? "(no \(syncLog))"
    }

    /// Inserts ids 1, 2, … one transaction each for `duration`; then "crashes the master
    /// host": SIGKILL to syncdaemon (when given) and an immediate stop; then boots the standby.
    func crashAndBoot(inserting duration: Duration, daemon: pid_t?) async throws -> RPOOutcome {
        let db = try PGConnection(conninfo: master.conninfo)
        var committed: [ContinuousClock.Instant] = []
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            try db.execute("INSERT INTO rpo VALUES ($1)", ["\(committed.count + 1)"])
            committed.append(ContinuousClock.now)
        }
        db.close()
        let crashAt = ContinuousClock.now
        if let daemon { TestEnv.terminate(daemon, signal: SIGKILL) }
        master.stop(mode: "immediate")
        let boot = try await walmgr(["boot"])
        let standby = attachStandby()
        guard boot.succeeded else {
            throw HarnessError("boot failed: \(boot.stderrTail)\n\(standby.logTail())")
        }
        let row = try await standby.psql("SELECT count(*) || ' ' || coalesce(max(id), 0) FROM rpo")
        let numbers = row.split(separator: " ").compactMap { Int($0) }
        return RPOOutcome(
            committedAt: committed, crashAt: crashAt, standbyCount: numbers.first ?? -1,
            standbyMax: numbers.last ?? -1)
    }

    /// Table, backup, archive-only standby via `walmgr restore`.
    func prepareArchiveOnlyStandby() async throws {
        try await master.psql("CREATE TABLE rpo (id int PRIMARY KEY)")
        try await makeBackup()
        let restore = try await walmgr(["restore"])
        guard restore.succeeded else { throw HarnessError("restore: \(restore.stderrTail)") }
        let standby = attachStandby()
        try await waitUntil("the standby accepts connections") {
            try await standby.psql("SELECT pg_is_in_recovery()") == "t"
        }
    }
}

/// Ends walmgr's persistent ssh connection, which outlives a stopped sshd.
func closeSSHControlMaster(_ sshd: SSHD) async throws {
    let uid = UserAccount(name: TestEnv.serverUserName)?.uid ?? geteuid()
    let ssh = SSH(
        host: "\(sshd.user)@\(sshd.host)", options: sshd.sshOptions,
        controlDir: "/tmp/walmgr-ssh-\(uid)")
    _ = try await TestEnv.runner.run(
        Command("ssh", ssh.baseArguments + ["-O", "exit", ssh.host], user: TestEnv.runAsUser))
}
