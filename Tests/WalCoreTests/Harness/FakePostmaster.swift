import Foundation

@testable import WalCore

/// A process that looks like a running postmaster to walmgr: `sleep` running in `dataDir`,
/// whose postmaster.pid names it. For guards that must find "a live server uses this" without
/// starting PostgreSQL. ``stop()`` kills it by pid.
final class FakePostmaster: Sendable {
    let pid: pid_t
    let dataDir: String

    /// Starts it in `dataDir` (created) and waits until it runs there.
    static func start(in dataDir: String) async throws -> FakePostmaster {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let script = "cd '\(dataDir)' && exec sleep 600"
        let pid = try TestEnv.spawnShell(script, what: "a fake postmaster")
        let server = FakePostmaster(pid: pid, dataDir: dataDir)
        try "\(pid)\n\(dataDir)\n".write(
            toFile: "\(dataDir)/postmaster.pid", atomically: false, encoding: .utf8)
        try await waitUntil("pid \(pid) runs sleep in \(dataDir)", timeout: .seconds(30)) {
            let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
            let cwd = try? FileManager.default.destinationOfSymbolicLink(
                atPath: "/proc/\(pid)/cwd")
            return comm == "sleep\n" && cwd == dataDir
        }
        return server
    }

    private init(pid: pid_t, dataDir: String) {
        self.pid = pid
        self.dataDir = dataDir
    }

    /// Kills and reaps it.
    func stop() {
        kill(pid, SIGKILL)
        waitpid(pid, nil, 0)
    }
}
