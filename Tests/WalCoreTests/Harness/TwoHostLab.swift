import Foundation
import Testing
import WalCore

/// Two hosts for the README acceptance suite: `master` (root network namespace) and
/// `standby.example.com` (its own network namespace), joined by a veth pair. Each has its own
/// HOME, socket dir, /etc/hosts and hostname; the slave has an sshd on port 22; the master has a
/// PostgreSQL cluster in `/var/lib/postgresql/<major>/main` listening on its veth address.
final class TwoHostLab {
    /// The network between the hosts.
    let net: NetNS
    /// The master host.
    let master: Host
    /// The slave host.
    let slave: Host
    /// The slave's sshd (port 22, the user's own authorized_keys).
    let sshd: SSHD
    /// The master's sshd, for the roles swapped after a failover (``startMasterSSHD()``).
    private(set) var masterSSHD: SSHD?
    /// PostgreSQL's bin dir and major version.
    let binDir: String
    let major: String
    /// Per-test files: the walmgr binary, the hosts' directories.
    let scratch: String
    /// Time per README step, in run order.
    private(set) var timings: [(step: String, seconds: Double)] = []

    /// The data dir on both hosts, as the README names it (with the real major).
    var dataDir: String { "\(Host.home)/\(major)/main" }
    /// Where the README's /etc/walmgr is on each host (inside the host's own HOME).
    static let configDir = "\(Host.home)/etc/walmgr"

    init(binDir: String) async throws {
        self.binDir = binDir
        major = try await Self.majorVersion(binDir)
        scratch = try TestEnv.scratchDir(prefix: "wm2h")
        let bin = "\(scratch)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        chmod(bin, 0o755)
        _ = try TestEnv.walmgrBinary(in: bin)
        net = try await NetNS()
        let hosts =
            "127.0.0.1 localhost\n\(net.masterAddress) master\n"
            + "\(net.slaveAddress) standby.example.com standby\n"
        let path = "\(bin):\(binDir):/usr/local/bin:/usr/bin:/bin"
        master = try await Host(
            name: "master", hostname: "master-\(net.subnet)", scratch: scratch, launcher: [],
            hosts: hosts, path: path)
        slave = try await Host(
            name: "standby", hostname: "standby-\(net.subnet)", scratch: scratch,
            launcher: net.launcher, hosts: hosts, path: path)
        sshd = try await SSHD(
            scratch: "\(scratch)/standby", host: net.slaveAddress, launcher: slave.enter([]),
            port: 22, userKeys: true)
        for host in [master, slave] {
            let tmp = "\(host.homeDir)/tmp"
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(tmp, mode: 0o700)
        }
        try await sshd.start()
        try await startMaster()
    }

    /// "postgres (PostgreSQL) 15.8" → "15".
    static func majorVersion(_ binDir: String) async throws -> String {
        let out = try await TestEnv.run(Command("\(binDir)/postgres", ["-V"]))
        guard let word = out.split(separator: " ").last?.split(separator: ".").first else {
            throw HarnessError("cannot read the major version from \(out)")
        }
        return String(word)
    }

    /// initdb the way a distribution does (peer locally, scram over TCP) and start it on the
    /// master's veth address; `pg_ctl restart` keeps that option (postmaster.opts).
    private func startMaster() async throws {
        try await must(
            master.run([
                "initdb", "-D", dataDir, "-U", "postgres", "--auth-local=peer",
                "--auth-host=scram-sha-256",
            ]))
        let conf = "\(master.homeDir)/\(major)/main/postgresql.conf"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
        handle.seekToEndOfFile()
        handle.write(Data("unix_socket_directories = '\(Host.runDir)'\n".utf8))
        try handle.close()
        try await must(
            master.run([
                "pg_ctl", "-w", "-t", "60", "-D", dataDir, "-l", "\(Host.home)/master.log",
                "-o", "-c listen_addresses=\(net.masterAddress)", "start",
            ]))
    }

    /// Throws with stderr unless the command succeeded.
    func must(_ result: ProcessResult) throws {
        guard result.succeeded else {
            throw HarnessError("failed (\(result.statusText)): \(result.stderrTail)")
        }
    }

    /// The README text with the suite's paths: the README's major 16 becomes the real one, its
    /// bin dir the real one, /etc/walmgr and /tmp a per-host directory in the host's HOME.
    func substitute(_ text: String) -> String {
        QuickStart.substitute(
            text,
            [
                ("/usr/lib/postgresql/16/bin", binDir),
                ("/var/lib/postgresql/16/", "/var/lib/postgresql/\(major)/"),
                ("/etc/walmgr", Self.configDir), ("/tmp/", "\(Host.home)/tmp/"),
            ])
    }

    /// The test process's path for a path inside `host`'s HOME.
    func outside(_ path: String, on host: Host) -> String {
        host.homeDir + path.dropFirst(Host.home.count)
    }

    /// Runs one README block on its host(s); the first failing line throws with its output.
    func run(_ block: QuickStart.Block) async throws {
        let hosts: [Host] =
            switch block.place {
            case .master: [master]
            case .slave: [slave]
            case .both: [master, slave]
            case .build: []
            }
        let started = ContinuousClock.now
        defer { record(block.step, since: started) }
        if let file = block.appendTo {
            let target = outside(substitute(file), on: hosts[0])
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
            handle.seekToEndOfFile()
            handle.write(Data((block.lines.joined(separator: "\n") + "\n").utf8))
            try handle.close()
            return
        }
        for host in hosts {
            for line in block.lines {
                let command = substitute(line)
                let result = try await host.shell(command, asRoot: block.asRoot)
                guard result.succeeded else {
                    throw HarnessError(
                        "README step \"\(block.step)\" on \(host.name): `\(command)` failed "
                            + "(\(result.statusText)):\n\(result.stderrTail)\n\(result.output.suffix(2000))"
                    )
                }
            }
        }
    }

    /// Adds the time since `started` to `step`.
    func record(_ step: String, since started: ContinuousClock.Instant) {
        let seconds =
            Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        if let last = timings.indices.last, timings[last].step == step {
            timings[last].seconds += seconds
        } else {
            timings.append((step, seconds))
        }
    }

    /// The timings as lines for the test log.
    var timingReport: String {
        timings.map { String(format: "  %6.2f s  %@", $0.seconds, $0.step) }.joined(separator: "\n")
    }

    /// Starts an sshd on the master host, as the slave's: port 22 of its address, or, when
    /// another sshd of this machine holds port 22 on every address, a free port that the
    /// slave's `~/.ssh/config` names for `master` (the host's environment, not a README line).
    func startMasterSSHD() async throws {
        let free = TestEnv.canBind(22, address: net.masterAddress)
        let server = try await SSHD(
            scratch: "\(scratch)/master", host: net.masterAddress, launcher: master.enter([]),
            port: free ? 22 : nil, userKeys: true)
        masterSSHD = server
        if !free {
            let config = "\(slave.homeDir)/.ssh/config"
            try FileManager.default.createDirectory(
                atPath: "\(slave.homeDir)/.ssh", withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser("\(slave.homeDir)/.ssh", mode: 0o700)
            try TestEnv.writeOwned(config, "Host master\n  Port \(server.port)\n")
            chmod(config, 0o600)
        }
        try await server.start()
    }

    /// Stops the syncdaemons, the sshds, every PostgreSQL and the hosts; removes the scratch dir.
    func destroy() {
        for host in [master, slave] {
            let pidfile = outside("\(Self.configDir)/wal-master.pid", on: host)
            if let text = try? String(contentsOfFile: pidfile, encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                TestEnv.terminate(pid, signal: SIGTERM, timeout: .seconds(10))
            }
        }
        masterSSHD?.stop()
        sshd.stop()
        slave.destroy()
        // The standby archives too once `boot` promoted it.
        ArchiveFailures.report(logFile: outside("\(Host.home)/master.log", on: master))
        ArchiveFailures.report(logFile: outside("\(dataDir)/log/walmgr-start.log", on: slave))
        master.destroy()
        net.destroy()
        TestEnv.removeScratch(scratch)
    }
}
