import Foundation

@testable import WalCore

/// A master cluster plus walmgr configs for it and a slave side in one scratch dir; the slave is
/// reached locally, or over a private sshd when one is given. Always call `destroy()`.
final class WalmgrPair {
    let master: PGCluster
    let sshd: SSHD?
    let scratch: String
    let walmgr: String
    let masterIni: String
    let slaveIni: String
    let walmgrData: String
    var completedWals: String { "\(walmgrData)/logs.complete" }

    /// Creates the cluster (not started) and writes both inis.
    init(binDir: String, sshd: SSHD? = nil, masterExtra: String = "", slaveExtra: String = "")
        async throws
    {
        let scratch = try TestEnv.scratchDir(prefix: "wmp")
        self.scratch = scratch
        self.sshd = sshd
        master = try await PGCluster(binDir: binDir, scratch: scratch, name: "master")
        walmgr = try TestEnv.walmgrBinary(in: scratch)
        walmgrData = "\(scratch)/walshipping"
        masterIni = "\(scratch)/wal-master.ini"
        slaveIni = "\(scratch)/wal-slave.ini"
        var slaveLines = "slave_config = \(slaveIni)\nslave_walmgr = \(walmgr)\n"
        if let sshd {
            let options = sshd.sshOptions.map(ShellWords.quote).joined(separator: " ")
            slaveLines += "slave = \(sshd.user)@\(sshd.host)\nssh_options = \(options)\n"
        }
        try TestEnv.writeOwned(
            masterIni,
            """
            [walmgr]
            job_name = test_master
            master_db = \(master.conninfo)
            master_data = \(master.dataDir)
            master_config = %(master_data)s/postgresql.conf
            master_bin = \(binDir)
            walmgr_data = \(walmgrData)
            completed_wals = %(walmgr_data)s/logs.complete
            partial_wals = %(walmgr_data)s/logs.partial
            full_backup = %(walmgr_data)s/data.master
            config_backup = %(walmgr_data)s/config.backup
            \(slaveLines)\(masterExtra)
            """)
        try TestEnv.writeOwned(
            slaveIni,
            """
            [walmgr]
            job_name = test_slave
            slave_data = \(scratch)/standby
            slave_bin = \(binDir)
            walmgr_data = \(walmgrData)
            completed_wals = %(walmgr_data)s/logs.complete
            partial_wals = %(walmgr_data)s/logs.partial
            full_backup = %(walmgr_data)s/data.master
            config_backup = %(walmgr_data)s/config.backup
            \(slaveExtra)
            """)
    }

    deinit { destroy() }

    /// Stops the master and removes the scratch dir.
    func destroy() {
        master.stop(mode: "immediate")
        ArchiveFailures.report(logFile: master.logFile)
        TestEnv.removeScratch(scratch)
    }

    /// Runs the copied walmgr as the server's user.
    func run(_ arguments: [String], cwd: String? = nil, input: ProcessInput = .none)
        async throws -> ProcessResult
    {
        let command = Command(
            walmgr, arguments, workingDirectory: cwd ?? scratch, user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: input, timeout: .seconds(120))
    }

    /// `setup` on the master, then a restart so archive_mode takes effect.
    func setupAndRestart() async throws {
        try await master.start()
        let result = try await run([masterIni, "setup"])
        guard result.succeeded else { throw HarnessError("setup failed: \(result.stderrTail)") }
        try await master.restart()
    }

    /// Switches WAL and waits until PostgreSQL reports that segment archived; returns its name.
    @discardableResult
    func switchAndWaitArchived(timeout: Duration = .seconds(120)) async throws -> String {
        let name = try await master.psql(
            "SELECT pg_walfile_name(pg_switch_wal() - 1)")
        try await waitArchived(name, timeout: timeout)
        return name
    }

    /// Waits until pg_stat_archiver's last archived WAL is at or past `name` (by
    /// ``waitUntil(_:timeout:_:)``, which looks once more after the deadline).
    func waitArchived(_ name: String, timeout: Duration = .seconds(120)) async throws {
        do {
            try await waitUntil("\(name) archived", timeout: timeout) {
                let last = try await master.psql(
                    "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
                return last >= name && !last.isEmpty
            }
        } catch {
            throw HarnessError("\(error): \(master.logTail())")
        }
    }
}
