import Foundation

/// A backup's `tablespace_map`: one `OID PATH` line per tablespace, the path as the master had
/// it. PostgreSQL, starting from the backup_label, replaces every pg_tblspc link by the path
/// in this file. So restore rewrites it with the locations it restored to: a tablespace
/// restored beside the standby (its master location in use) would otherwise be linked back to
/// the master's live directory, and two servers would write the same files.
enum TablespaceMap {
    /// The file's text for `links` (OID, path), escaped as PostgreSQL writes it: a backslash
    /// before each `\`, CR and LF in a path.
    static func render(_ links: [(oid: String, path: String)]) -> String {
        links.map { oid, path in
            // By scalar: CR LF is one Character, equal to neither "\r" nor "\n".
            var escaped = String.UnicodeScalarView()
            for scalar in path.unicodeScalars {
                if scalar == "\\" || scalar == "\n" || scalar == "\r" { escaped.append("\\") }
                escaped.append(scalar)
            }
            return "\(oid) \(String(escaped))\n"
        }.joined()
    }

    /// Rewrites `<dataDir>/tablespace_map`, when the backup has one, to name `links`.
    static func rewrite(in dataDir: String, links: [(oid: String, path: String)]) throws {
        let path = "\(dataDir)/tablespace_map"
        guard try Durable.regularFileExists(path) else { return }
        try Durable.replace(Array(render(links).utf8), at: path, mode: 0o600)
    }
}
