import Foundation

/// Whether a process named by a PID (from a temp file name, a pidfile or a state file) still runs.
enum ProcessLiveness {
    /// True when no process has this PID, or only a zombie (killed or exited, not yet reaped: it
    /// writes nothing any more). EPERM counts as running: the process exists but belongs to
    /// another user. A PID from another PID namespace looks gone too; a temp file's writer then
    /// fails at link() and PostgreSQL retries, so nothing is lost.
    static func isGone(_ pid: pid_t) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 { return errno == ESRCH }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[close...].dropFirst(2).first == "Z"
    }
}
