import Foundation

/// Tells whether a local PostgreSQL server still runs, from its postmaster.pid.
struct PostmasterWatch: Sendable {
    /// How often a backup looks.
    static let interval: Duration = .seconds(1)
    let dataDir: String

    /// Why the server is gone, or nil while it runs (or when that cannot be told, e.g. the pid
    /// file is unreadable: a backup is never stopped on a guess).
    func gone() -> String? {
        let path = "\(dataDir)/postmaster.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return access(path, F_OK) != 0 && errno == ENOENT ? "\(path) is gone" : nil
        }
        guard let line = text.split(separator: "\n").first, let pid = pid_t(line) else {
            return nil
        }
        if kill(pid, 0) == 0 || errno == EPERM { return nil }
        return "its postmaster, pid \(pid) in \(path), is gone"
    }
}
