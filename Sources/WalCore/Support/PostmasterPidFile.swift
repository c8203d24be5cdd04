import Foundation

/// A data dir's `postmaster.pid`, as PostgreSQL writes it: line 1 the postmaster's pid, line 2
/// the data dir, line 8 the status (`starting`, `ready`, `standby`, `stopping`).
struct PostmasterPidFile: Sendable {
    /// The file's path.
    let path: String
    /// Its lines, or nil when it cannot be read (missing, or no permission).
    let lines: [String]?

    /// Reads `<dataDir>/postmaster.pid`.
    init(dataDir: String) {
        path = "\(dataDir)/postmaster.pid"
        lines = (try? String(contentsOfFile: path, encoding: .utf8))
            .map { $0.components(separatedBy: "\n") }
    }

    /// The pid on line 1, when it is one.
    var pid: Int32? {
        guard let pid = lines?.first.flatMap({ Int32($0) }), pid > 0 else { return nil }
        return pid
    }

    /// The pid when that process is alive (``ProcessLiveness/isGone(_:)``): a process of
    /// another user counts as alive (a server run by someone else is still a running server), a
    /// zombie postmaster (dead, not yet reaped) does not.
    var livePID: Int32? {
        guard let pid, !ProcessLiveness.isGone(pid) else { return nil }
        return pid
    }

    /// The data dir the postmaster wrote on line 2.
    var dataDir: String? {
        guard let lines, lines.count > 1, !lines[1].isEmpty else { return nil }
        return lines[1]
    }

    /// The status line: `starting`, `ready`, `standby` or `stopping`.
    var status: String? {
        guard let lines, lines.count > 7 else { return nil }
        return lines[7].trimmingCharacters(in: .whitespaces)
    }
}
