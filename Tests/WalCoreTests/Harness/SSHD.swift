import Foundation
import WalCore

/// A private sshd on 127.0.0.1 with its own host key, client key and known_hosts.
///
/// As root it lets the run-as user (postgres) in with PAM (the account is locked); otherwise
/// it runs as the current user for that user only. Stopped by its PID, never by name.
final class SSHD {
    /// Where sshd lives.
    static let binary = "/usr/sbin/sshd"
    /// True when sshd and ssh-keygen are installed (tests that need them are skipped if not).
    static let isAvailable =
        FileManager.default.isExecutableFile(atPath: binary)
        && ["/usr/bin/ssh", "/usr/bin/ssh-keygen"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }

    /// The directory with keys, config, known_hosts and authorized_keys.
    let dir: String
    /// The user that may log in (and that owns the client key).
    let user: String
    /// The address sshd listens on.
    let host: String
    /// Prepended to sshd's argv (e.g. `ip netns exec NS` to run it on another "host").
    let launcher: [String]
    /// The port sshd listens on (fixed for the life of this object, so restarts keep it).
    let port: Int
    /// The client's private key.
    var clientKey: String { "\(dir)/client_key" }
    /// The known_hosts file that names this sshd's host key.
    var knownHosts: String { "\(dir)/known_hosts" }
    private var configPath: String { "\(dir)/sshd_config" }
    private var task: Task<ProcessResult, any Error>?
    private let ownsDir: Bool
    /// True when logins use the user's own `~/.ssh/authorized_keys`, as on a real host.
    private let userKeys: Bool

    /// Makes keys and a config in a new (or the given) scratch directory; does not start.
    /// `port` defaults to a free one; `userKeys` authorizes from `~/.ssh/authorized_keys`.
    init(
        scratch: String? = nil, host: String = "127.0.0.1", launcher: [String] = [],
        port: Int? = nil, userKeys: Bool = false
    ) async throws {
        self.host = host
        self.launcher = launcher
        self.userKeys = userKeys
        let made = try scratch ?? TestEnv.scratchDir(prefix: "wms")
        ownsDir = scratch == nil
        dir = "\(made)/sshd"
        user = TestEnv.serverUserName
        self.port = try port ?? TestEnv.freePort()
        try FileManager.default.createDirectory(
            atPath: "\(dir)/authorized_keys", withIntermediateDirectories: true)
        for key in ["host_key", "client_key"] {
            try await TestEnv.run(
                Command(
                    "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "\(dir)/\(key)"])
            )
        }
        try TestEnv.chownToRunAsUser(clientKey, mode: 0o600)
        let hostPub = try String(contentsOfFile: "\(dir)/host_key.pub", encoding: .utf8)
        let keyWords = hostPub.split(separator: " ").prefix(2).joined(separator: " ")
        try write("[\(host)]:\(self.port) \(keyWords)\n", to: knownHosts)
        try FileManager.default.copyItem(
            atPath: "\(clientKey).pub", toPath: "\(dir)/authorized_keys/\(user)")
        try write(config(), to: configPath)
        if TestEnv.isRoot {
            // sshd's privilege separation directory (the openssh-server unit makes it at boot).
            try FileManager.default.createDirectory(
                atPath: "/run/sshd", withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755])
        }
        try await TestEnv.run(Command(Self.binary, ["-t", "-f", configPath]))
    }

    deinit { destroy() }

    private func config() -> String {
        """
        Port \(port)
        ListenAddress \(host)
        HostKey \(dir)/host_key
        PidFile \(dir)/sshd.pid
        AuthorizedKeysFile \(userKeys ? ".ssh/authorized_keys" : "\(dir)/authorized_keys/%u")
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM \(TestEnv.isRoot ? "yes" : "no")
        StrictModes no
        AllowUsers \(user)
        LogLevel ERROR

        """
    }

    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Starts sshd as a direct child and waits until it accepts connections.
    func start() async throws {
        guard task == nil else { return }
        let argv = launcher + [Self.binary, "-D", "-e", "-f", configPath]
        let command = Command(argv: argv)
        let runner = TestEnv.runner
        let task = Task { try await runner.run(command, input: .none, timeout: nil) }
        self.task = task
        let deadline = ContinuousClock.now + .seconds(10)
        while !TestEnv.accepts(host: host, port: port) {
            if ContinuousClock.now > deadline {
                stop()
                let result = try? await task.value
                throw HarnessError(
                    "sshd did not accept connections on \(host):\(port): "
                        + (result?.stderrTail ?? "no output"))
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The sshd PID from its PidFile, or nil when it is not running.
    var pid: pid_t? {
        guard let text = try? String(contentsOfFile: "\(dir)/sshd.pid", encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return nil }
        return pid
    }

    /// Stops sshd by its PID and waits until it is gone, and its sessions with it: a session
    /// outlives the listener, and one whose client vanished with its network namespace stayed
    /// for good (a day of runs left 327 `sshd: postgres` processes).
    func stop() {
        if let pid {
            // Killed and waited for: a SIGKILLed process on a busy machine can still be
            // there a moment later (seen in CI as "sessions outlived sshd").
            let sessions = TestEnv.descendants(of: pid)
            for session in sessions { kill(session, SIGKILL) }
            for session in sessions {
                TestEnv.terminate(session, signal: SIGKILL, timeout: .seconds(10))
            }
            TestEnv.terminate(pid, signal: SIGTERM, timeout: .seconds(10))
        }
        try? FileManager.default.removeItem(atPath: "\(dir)/sshd.pid")
        task = nil
    }

    /// Stops sshd and starts it again on the same port with the same keys.
    func restart() async throws {
        let old = task
        stop()
        _ = try? await old?.value
        try await start()
    }

    /// Stops sshd and removes its scratch directory when this object made it.
    func destroy() {
        stop()
        if ownsDir {
            TestEnv.removeScratch(URL(fileURLWithPath: dir).deletingLastPathComponent().path)
        }
    }

    /// Client options for walmgr's `ssh_options` key (walmgr adds BatchMode and host checking).
    var sshOptions: [String] {
        [
            "-F", "/dev/null", "-p", "\(port)", "-i", clientKey, "-o", "IdentitiesOnly=yes",
            "-o", "UserKnownHostsFile=\(knownHosts)",
        ]
    }

    /// Complete client options for running plain `ssh` from a test.
    var plainSSHOptions: [String] {
        sshOptions + ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    }

    /// `ssh ... user@127.0.0.1 ARGS` as the run-as user; each remote word shell-quoted.
    func sshCommand(_ remote: [String]) -> Command {
        Command(
            "/usr/bin/ssh",
            plainSSHOptions + ["\(user)@\(host)", "--"] + remote.map(ShellWords.quote),
            user: TestEnv.runAsUser)
    }
}

/// Runs `body` with a started private sshd and always stops and removes it afterwards.
func withSSHD<T>(_ body: (SSHD) async throws -> T) async throws -> T {
    let sshd = try await SSHD()
    defer { sshd.destroy() }
    try await sshd.start()
    return try await body(sshd)
}
