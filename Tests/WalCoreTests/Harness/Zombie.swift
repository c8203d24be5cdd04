import Foundation

@testable import WalCore

/// A zombie that stays one: `/bin/true` started in the background by a shell that then execs
/// `sleep`, which never reaps it. No reaper in the test process can collect it (it is a
/// grandchild), so the zombie lasts until ``stop()`` kills its parent.
final class Zombie: Sendable {
    /// The zombie's pid.
    let pid: pid_t
    /// Its parent (`sleep`), our child.
    let parent: pid_t

    /// Starts the pair and waits until the pid is a zombie; `dir` holds the pid file.
    static func start(in dir: String) async throws -> Zombie {
        let pidFile = "\(dir)/zombie.pid"
        let script = "/bin/true & echo $! > '\(pidFile)'; exec sleep 600"
        let parent = try TestEnv.spawnShell(script, what: "a zombie")
        var pid: pid_t = 0
        try await waitUntil("the zombie's pid is written", timeout: .seconds(30)) {
            let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
            guard text.hasSuffix("\n") else { return false }
            pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            return pid > 0
        }
        let zombie = Zombie(pid: pid, parent: parent)
        try await waitUntil("\(pid) is a zombie", timeout: .seconds(30)) { zombie.isZombie }
        return zombie
    }

    private init(pid: pid_t, parent: pid_t) {
        self.pid = pid
        self.parent = parent
    }

    /// True while /proc says state Z.
    var isZombie: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[close...].dropFirst(2).first == "Z"
    }

    /// Kills the parent (init then reaps the zombie) and reaps the parent.
    func stop() {
        kill(parent, SIGKILL)
        waitpid(parent, nil, 0)
    }
}
