import Foundation

extension Boot {
    /// Refuses unless `db` is the server of slave_data: the same data_directory (symlinks
    /// resolved), the same system identifier as slave_data's global/pg_control, and a live
    /// postmaster in slave_data.
    ///
    /// Why all three: slave_db (or the port in slave_data's postgresql.conf) can reach another
    /// server, e.g. the master on the same host after a failed restore left slave_data stopped;
    /// boot then once printed "already promoted" and exited 0. The master and its standby share
    /// the system identifier, so data_directory tells them apart on one host; the identifier
    /// and the postmaster catch a server of the same path on another host.
    static func verifyIdentity(_ db: PGConnection, server: StandbyServer) throws {
        let row = try db.query(
            "SELECT current_setting('data_directory') AS dir, system_identifier::text AS id "
                + "FROM pg_control_system()")
        let reachedDir = row[0, "dir"] ?? "?"
        let reachedID = row[0, "id"].flatMap { Int64($0) }.map { UInt64(bitPattern: $0) }
        let expectedID = ControlFile.systemIdentifier(server.dataDir)
        let pid = server.runningPID
        let sameDir = MasterCheck.resolved(reachedDir) == MasterCheck.resolved(server.dataDir)
        if sameDir, let expectedID, reachedID == expectedID, pid != nil { return }
        let expected =
            "system identifier \(expectedID.map(String.init) ?? "unknown: global/pg_control unreadable"), "
            + (pid.map { "postmaster pid \($0)" } ?? "no postmaster running")
        let reached =
            "the server of data_directory \(reachedDir) (system identifier "
            + "\(reachedID.map(String.init) ?? "?"))"
        throw StandbyError.notTheStandby(
            slaveData: server.dataDir, expected: expected, reached: reached)
    }
}
