import Foundation

@testable import WalCore

/// A ``StandbyLab`` whose master has no replication rule in pg_hba.conf, a master ini for
/// `setup`/`synch-standby`, and a slave ini that streams as `s1` through a slot.
final class StreamingLab {
    let lab: StandbyLab
    let masterIni: String
    var hbaFile: String { "\(lab.master.dataDir)/pg_hba.conf" }
    /// The slot name: the slave ini's job_name (its file name) cleaned up.
    let slot = "wal_slave"

    init(binDir: String) async throws {
        let primary = "primary_conninfo = host=127.0.0.1 port=%d user=postgres application_name=s1"
        // The master's port is only known after initdb: StandbyLab's slaveExtra is written in
        // its init, so the conninfo is patched into the ini right after.
        lab = try await StandbyLab(
            binDir: binDir, streaming: false, slaveExtra: "use_replication_slot = 1\n")
        let master = lab.master
        try Self.append(
            lab.slaveIni,
            String(format: primary, master.port) + "\nmaster_db = \(master.conninfo)\n")
        masterIni = "\(lab.scratch)/wal-master.ini"
        try Self.write(
            masterIni,
            """
            [walmgr]
            master_data = \(master.dataDir)
            master_config = \(master.dataDir)/postgresql.conf
            master_db = \(master.conninfo)
            walmgr_data = \(lab.walmgrData)
            slave_config = \(lab.slaveIni)
            primary_conninfo = host=127.0.0.1 port=\(master.port) user=postgres
            status_max_slot_retained_mb = 16

            """)
        try Self.write(hbaFile, "local all all trust\nhost all all 127.0.0.1/32 trust\n")
        try await master.psql("SELECT pg_reload_conf()")
    }

    func destroy() { lab.destroy() }

    /// The standby's conninfo over its socket.
    var standbyConninfo: String {
        "host=\(lab.scratch) port=\(lab.standbyPort) dbname=postgres user=postgres"
    }

    /// SQL on the master.
    @discardableResult
    func master(_ sql: String) async throws -> String { try await lab.master.psql(sql) }

    /// `walmgr MASTER.ini setup [flags]`.
    func setup(_ flags: String...) async throws -> ProcessResult {
        try await walmgr(["setup"] + flags)
    }

    /// Runs walmgr with the master ini.
    func walmgr(_ arguments: [String]) async throws -> ProcessResult {
        let command = Command(
            lab.walmgr, [masterIni] + arguments, workingDirectory: lab.scratch,
            user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(60))
    }

    private static func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(path, mode: 0o600)
    }

    private static func append(_ path: String, _ text: String) throws {
        let old = try String(contentsOfFile: path, encoding: .utf8)
        try (old + text).write(toFile: path, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(path, mode: 0o644)
    }
}
