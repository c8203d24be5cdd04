import Foundation

/// How the master runs walmgr on the slave: a local subprocess, or over ssh.
public struct SlaveLink: Sendable {
    /// ssh to the slave, or nil when the slave is this machine.
    public let ssh: SSH?
    /// The walmgr binary on the slave.
    public let walmgr: String
    /// The slave's ini path on the slave.
    public let slaveConfig: String
    /// `-v`/`-q` passed on.
    public let globalFlags: [String]

    /// Builds the link from a master config. `reuseConnection: false` ignores
    /// `ssh_reuse_connection`: `check` wants a fresh connection, because a live ControlMaster
    /// would hide a removed key and, with the link down, make ssh wait 30 s for the old
    /// connection's keepalives before its own 10 s connect timeout.
    /// - Throws: ``TransportError/misconfigured(_:)`` when slave_config is missing.
    public init(config: MasterConfig, invocation: Invocation?, reuseConnection: Bool = true) throws
    {
        let host = config.slaveDirectoryHost
        guard let slaveConfig = config.slaveConfig, !slaveConfig.isEmpty else {
            throw TransportError.misconfigured(
                "missing key slave_config in \(config.common.configFile): the master runs walmgr "
                    + "on the slave with that ini; add slave_config = /path/to/wal-slave.ini")
        }
        self.slaveConfig = slaveConfig
        walmgr = config.common.slaveWalmgr ?? CommandContext.executablePath
        if Location.isLocalHost(host) {
            ssh = nil
        } else {
            ssh = SSH(
                host: host!, options: config.common.sshOptions,
                controlDir: config.common.sshReuseConnection && reuseConnection
                    ? try SSH.privateControlDir() : nil,
                compress: config.compression)
        }
        var flags: [String] = []
        if invocation?.verbose == true { flags.append("-v") }
        if invocation?.quiet == true { flags.append("-q") }
        globalFlags = flags
    }

    /// Where the slave is, for messages.
    public var hostDescription: String { ssh?.host ?? "localhost" }

    /// The command that runs `walmgr SLAVE_INI cmd args...` on the slave.
    public func command(_ name: String, _ arguments: [String] = []) -> Command {
        let argv = [walmgr] + globalFlags + [slaveConfig, name] + arguments
        return ssh?.command(argv) ?? Command(argv: argv)
    }

    /// Runs a slave command; a failure throws a ``TransportError`` naming ssh or the remote command.
    @discardableResult
    public func run(
        _ name: String, _ arguments: [String] = [], input: ProcessInput = .none,
        runner: any ProcessRunning, timeout: Duration? = nil
    ) async throws -> ProcessResult {
        let result = try await runner.run(command(name, arguments), input: input, timeout: timeout)
        guard !result.succeeded else { return result }
        if let ssh, result.status == 255 {
            throw TransportError.ssh(host: ssh.host, stderr: result.stderrTail)
        }
        throw TransportError.remote(
            host: hostDescription, command: ([name] + arguments).joined(separator: " "),
            status: result.statusText, stderr: result.stderrTail)
    }
}
