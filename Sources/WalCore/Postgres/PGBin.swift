import Foundation

/// Finds PostgreSQL's programs (pg_ctl, pg_controldata, pg_archivecleanup) in a bin dir or PATH.
public struct PGBin: Sendable {
    /// The configured bin dir (master_bin / slave_bin / pg_bin), or nil to search PATH.
    public let directory: String?

    /// Creates a finder for a configured bin dir.
    public init(_ directory: String?) {
        self.directory = directory.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The path of a program.
    /// - Throws: ``WalmgrFailure`` naming the dir (or PATH) and the config keys to set.
    public func path(_ program: String) throws -> String {
        if let directory {
            let path = (directory as NSString).appendingPathComponent(program)
            guard access(path, X_OK) == 0 else {
                throw WalmgrFailure(
                    "\(program) not found or not executable in \(directory): set master_bin / "
                        + "slave_bin / pg_bin to PostgreSQL's bin directory "
                        + "(e.g. /usr/lib/postgresql/16/bin)")
            }
            return path
        }
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map(String.init)
        for dir in search where access("\(dir)/\(program)", X_OK) == 0 {
            return "\(dir)/\(program)"
        }
        throw WalmgrFailure(
            "\(program) is not in PATH: set master_bin / slave_bin / pg_bin in the ini to "
                + "PostgreSQL's bin directory (e.g. /usr/lib/postgresql/16/bin)")
    }
}
