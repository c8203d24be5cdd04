import Foundation

/// The server a connection reaches, told apart from others: its data directory and system
/// identifier. A conninfo (slave_db, master_db, or a port in a config) can reach another
/// server than the one of a data dir on this host; the master and its standby share the system
/// identifier, so the data directory tells them apart on one host, and the identifier a server
/// of the same path on another host.
struct ReachedServer {
    /// `data_directory` as the server reports it.
    let dataDir: String
    /// The server's system identifier, nil if unreadable.
    let systemIdentifier: UInt64?

    init(_ db: PGConnection) throws {
        let row = try db.query(
            "SELECT current_setting('data_directory') AS dir, system_identifier::text AS id "
                + "FROM pg_control_system()")
        dataDir = row[0, "dir"] ?? "?"
        systemIdentifier = row[0, "id"].flatMap { Int64($0) }.map { UInt64(bitPattern: $0) }
    }

    /// True when this is the server of `dataDir`: the same directory (symlinks resolved) and
    /// the system identifier in its global/pg_control.
    func isServer(of dataDir: String) -> Bool {
        guard let expected = ControlFile.systemIdentifier(dataDir) else { return false }
        return MasterCheck.resolved(self.dataDir) == MasterCheck.resolved(dataDir)
            && systemIdentifier == expected
    }

    /// `the server of data_directory D (system identifier N)`, for messages.
    var description: String {
        "the server of data_directory \(dataDir) (system identifier "
            + "\(systemIdentifier.map(String.init) ?? "?"))"
    }
}
