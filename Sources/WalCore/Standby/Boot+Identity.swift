import Foundation

extension Boot {
    /// Refuses unless `db` is the server of slave_data: the same data_directory (symlinks
    /// resolved), the same system identifier as slave_data's global/pg_control, and a live
    /// postmaster in slave_data.
    ///
    /// Why all three: slave_db (or the port in slave_data's postgresql.conf) can reach another
    /// server, e.g. the master on the same host after a failed restore left slave_data stopped;
    /// boot then once printed "already promoted" and exited 0 (see ``ReachedServer``; the
    /// postmaster is checked too).
    static func verifyIdentity(_ db: PGConnection, server: StandbyServer) throws {
        let reached = try ReachedServer(db)
        let pid = server.runningPID
        if reached.isServer(of: server.dataDir), pid != nil { return }
        let expectedID = ControlFile.systemIdentifier(server.dataDir)
        let expected =
            "system identifier \(expectedID.map(String.init) ?? "unknown: global/pg_control unreadable"), "
            + (pid.map { "postmaster pid \($0)" } ?? "no postmaster running")
        throw StandbyError.notTheStandby(
            slaveData: server.dataDir, expected: expected, reached: reached.description)
    }
}
