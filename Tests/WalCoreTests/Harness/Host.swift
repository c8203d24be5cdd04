import Foundation
import WalCore

/// One simulated machine for the two-host suite: its own mount and UTS namespace (and the
/// network namespace it is started in), with its own hostname, `/etc/hosts`, and bind-mounted
/// `/var/lib/postgresql` (postgres's HOME) and `/var/run/postgresql`.
///
/// A `sleep infinity` started under `unshare -m -u` anchors the namespaces; every command
/// enters them with `nsenter`, so a PostgreSQL or sshd started here sees only this host's
/// files. Nothing is shared with the other host but the binaries and the file system below.
final class Host {
    /// postgres's HOME on every host (bind-mounted per host).
    static let home = "/var/lib/postgresql"
    /// The socket directory on every host (bind-mounted per host).
    static let runDir = "/var/run/postgresql"

    /// The host's name in messages and in the scratch dir.
    let name: String
    /// The directory mounted on `/var/lib/postgresql`, seen from the test process.
    let homeDir: String
    /// `PATH` for commands run here.
    let path: String
    private let anchor: Process

    /// Starts the anchor (inside `launcher`, e.g. `ip netns exec NS`) and mounts the host's
    /// directories; `hosts` is this host's `/etc/hosts`. `hostname` must be unique on the
    /// machine: ssh's ControlPath hash (`%C`) includes it, and /tmp is shared.
    init(
        name: String, hostname: String, scratch: String, launcher: [String], hosts: String,
        path: String
    ) async throws {
        self.name = name
        self.path = path
        let dir = "\(scratch)/\(name)"
        homeDir = "\(dir)/home"
        for sub in [dir, homeDir, "\(dir)/run"] {
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(sub, mode: 0o755)
        }
        try hosts.write(toFile: "\(dir)/hosts", atomically: true, encoding: .utf8)
        chmod("\(dir)/hosts", 0o644)
        anchor = try TestEnv.spawn(
            launcher + [
                "/usr/bin/unshare", "-m", "-u", "--propagation", "private", "/bin/sleep",
                "infinity",
            ], cwd: "/")
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        let pid = anchor.processIdentifier
        try await waitUntil("host \(name) has its own mount namespace", timeout: .seconds(60)) {
            let theirs = try FileManager.default.destinationOfSymbolicLink(
                atPath: "/proc/\(pid)/ns/mnt")
            return theirs != ours
                && (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "sleep\n"
        }
        try await root(["/bin/mount", "--bind", homeDir, Self.home])
        try await root(["/bin/mount", "--bind", "\(dir)/run", Self.runDir])
        try await root(["/bin/mount", "--bind", "\(dir)/hosts", "/etc/hosts"])
        try await root(["/bin/hostname", hostname])
    }

    deinit { destroy() }

    /// The argv that runs `argv` inside this host as root.
    func enter(_ argv: [String]) -> [String] {
        [
            "/usr/bin/nsenter", "-t", "\(anchor.processIdentifier)", "-m", "-u", "-n",
            "--wd=/",
        ] + argv
    }

    /// The argv that runs `argv` inside this host as postgres, with a login-like environment.
    func asPostgres(_ argv: [String]) -> [String] {
        enter(
            TestEnv.asRunUser(
                [
                    "/usr/bin/env", "-i", "HOME=\(Self.home)", "USER=postgres", "LOGNAME=postgres",
                    "PATH=\(path)", "PGHOST=\(Self.runDir)", "LANG=C.UTF-8", "/bin/sh", "-c",
                    "cd && exec \"$@\"", "sh",
                ] + argv))
    }

    /// Runs `argv` here as root; throws unless it exits 0.
    @discardableResult
    func root(_ argv: [String]) async throws -> String {
        try await TestEnv.run(Command(argv: enter(argv)), timeout: .seconds(60))
    }

    /// Runs `argv` here as postgres and returns how it ended.
    func run(_ argv: [String], timeout: Duration = .seconds(300)) async throws -> ProcessResult {
        try await TestEnv.runner.run(
            Command(argv: asPostgres(argv)), input: .none, timeout: timeout)
    }

    /// Runs one README command line here with `sh -c`, as the user would type it.
    func shell(_ line: String, asRoot: Bool = false) async throws -> ProcessResult {
        let argv =
            asRoot
            ? enter(["/usr/bin/env", "PATH=\(path)", "/bin/sh", "-c", line])
            : asPostgres(["/bin/sh", "-c", line])
        return try await TestEnv.runner.run(
            Command(argv: argv), input: .none, timeout: .seconds(300))
    }

    /// One value from `psql` here (socket connection as postgres).
    func psql(_ sql: String, port: Int = 5432) async throws -> String {
        let result = try await run([
            "psql", "-X", "-A", "-t", "-p", "\(port)", "-d", "postgres", "-c", sql,
        ])
        guard result.succeeded else {
            throw HarnessError("psql on \(name): \(sql): \(result.stderrTail)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops every PostgreSQL whose data dir is under this host's HOME, then the anchor.
    func destroy() {
        for pid in postmasterPIDs() {
            TestEnv.terminate(pid, signal: SIGQUIT, timeout: .seconds(10))
        }
        if anchor.isRunning {
            TestEnv.terminate(anchor.processIdentifier, signal: SIGKILL, timeout: .seconds(5))
        }
    }

    /// PIDs from `postmaster.pid` files one or two levels under HOME (`16/main`, `16/main.0`).
    func postmasterPIDs() -> [pid_t] {
        let fm = FileManager.default
        var pids: [pid_t] = []
        for major in (try? fm.contentsOfDirectory(atPath: homeDir)) ?? [] {
            for data in (try? fm.contentsOfDirectory(atPath: "\(homeDir)/\(major)")) ?? [] {
                let file = "\(homeDir)/\(major)/\(data)/postmaster.pid"
                guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                    let first = text.split(separator: "\n").first, let pid = pid_t(first)
                else { continue }
                pids.append(pid)
            }
        }
        return pids
    }
}
