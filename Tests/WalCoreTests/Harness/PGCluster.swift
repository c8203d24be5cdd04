import Foundation
import WalCore

/// A throwaway PostgreSQL server in a scratch directory under /tmp, run as the run-as user.
///
/// Always stopped: by `withCluster`, by an explicit `destroy()`, and in `deinit` as a
/// safety net. It is stopped by the postmaster PID from `postmaster.pid`, never by name.
final class PGCluster {
    /// The bin dir of the PostgreSQL installation (initdb, pg_ctl, postgres, psql).
    let binDir: String
    /// The scratch directory holding the data dir, the log and the socket.
    let scratch: String
    /// The data directory.
    let dataDir: String
    /// The server log (`pg_ctl -l`).
    let logFile: String
    /// The Unix socket directory (the scratch dir: short enough for the 107-byte limit).
    let socketDir: String
    /// The TCP port on 127.0.0.1 (also the socket's port).
    let port: Int
    /// The version of the binaries in `binDir`.
    let version: ServerVersion
    private let ownsScratch: Bool

    /// Runs initdb for a new cluster in a new (or the given) scratch directory.
    /// - Parameters:
    ///   - binDir: the PostgreSQL bin dir.
    ///   - scratch: an existing directory owned by the run-as user; nil makes a fresh one
    ///     (removed again by `destroy()`).
    ///   - name: the data directory's name inside the scratch directory.
    convenience init(binDir: String, scratch: String? = nil, name: String = "data") async throws {
        let dir = try scratch ?? TestEnv.scratchDir(prefix: "wmt")
        let port = try TestEnv.freePort()
        let version = try await Self.binaryVersion(binDir: binDir)
        self.init(
            binDir: binDir, scratch: dir, dataDir: "\(dir)/\(name)", port: port, version: version,
            ownsScratch: scratch == nil)
        try await TestEnv.run(
            pgCommand(
                "initdb",
                ["-A", "trust", "-U", "postgres", "-N", "-E", "UTF8", "--locale=C", "-D", dataDir]))
        try appendConf(
            """
            port = \(port)
            unix_socket_directories = '\(socketDir)'
            listen_addresses = '127.0.0.1'
            fsync = on
            max_wal_size = '256MB'
            logging_collector = off
            wal_retrieve_retry_interval = '200ms'
            """)
    }

    /// Wraps an existing data directory (e.g. a standby that walmgr restored) so the harness
    /// can start it and is sure to stop it. Its `port` setting must match `port`.
    convenience init(
        attaching dataDir: String, binDir: String, port: Int, scratch: String,
        version: ServerVersion
    ) {
        self.init(
            binDir: binDir, scratch: scratch, dataDir: dataDir, port: port, version: version,
            ownsScratch: false)
    }

    private init(
        binDir: String, scratch: String, dataDir: String, port: Int, version: ServerVersion,
        ownsScratch: Bool
    ) {
        self.binDir = binDir
        self.scratch = scratch
        self.dataDir = dataDir
        self.logFile = "\(dataDir).log"
        self.socketDir = scratch
        self.port = port
        self.version = version
        self.ownsScratch = ownsScratch
    }

    deinit { destroy() }

    /// The version `postgres --version` in `binDir` reports.
    static func binaryVersion(binDir: String) async throws -> ServerVersion {
        let out = try await TestEnv.run(Command("\(binDir)/postgres", ["--version"]))
        guard let version = ServerVersion(versionString: out) else {
            throw HarnessError("cannot parse `\(binDir)/postgres --version`: \(out)")
        }
        return version
    }

    /// A libpq conninfo for the superuser over the Unix socket.
    var conninfo: String {
        "host=\(socketDir) port=\(port) dbname=postgres user=postgres"
    }

    /// A libpq conninfo over TCP on 127.0.0.1.
    var tcpConninfo: String {
        "host=127.0.0.1 port=\(port) dbname=postgres user=postgres"
    }

    /// A command for a program in `binDir`, run as the run-as user in the scratch dir.
    func pgCommand(_ program: String, _ arguments: [String]) -> Command {
        Command(
            "\(binDir)/\(program)", arguments, environment: ["LC_ALL": "C", "PGTZ": "UTC"],
            workingDirectory: scratch, user: TestEnv.runAsUser)
    }

    /// Appends lines to postgresql.conf (the last setting wins); takes effect on restart or
    /// reload.
    func appendConf(_ text: String) throws {
        let path = "\(dataDir)/postgresql.conf"
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw HarnessError("cannot open \(path) for writing")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n# walmgr tests\n\(text)\n".utf8))
    }

    /// Starts the server and waits until it accepts connections.
    func start() async throws {
        let command = pgCommand(
            "pg_ctl", ["-w", "-t", "60", "-D", dataDir, "-l", logFile, "start"])
        let result = try await TestEnv.runner.run(command, input: .none, timeout: .seconds(90))
        guard result.succeeded else {
            throw HarnessError(
                "\(command) failed (\(result.statusText)):\n\(result.stderrTail)\n"
                    + "server log:\n\(logTail())")
        }
    }

    /// The postmaster's PID from postmaster.pid, or nil when the server is not running.
    var postmasterPID: pid_t? {
        guard let text = try? String(contentsOfFile: "\(dataDir)/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first), pid > 0,
            !TestEnv.processGone(pid)
        else { return nil }
        return pid
    }

    /// True when the postmaster is running.
    var isRunning: Bool { postmasterPID != nil }

    /// Stops the server by signalling its postmaster: "smart", "fast" or "immediate".
    func stop(mode: String = "fast") {
        guard let pid = postmasterPID else { return }
        let signal: Int32 =
            switch mode {
            case "smart": SIGTERM
            case "immediate": SIGQUIT
            default: SIGINT
            }
        TestEnv.terminate(pid, signal: signal)
    }

    /// Stops (fast) and starts the server.
    func restart() async throws {
        stop(mode: "fast")
        try await start()
    }

    /// Stops the server (immediately) and removes the scratch dir when this cluster made it.
    func destroy() {
        stop(mode: "immediate")
        guard ownsScratch else { return }
        ArchiveFailures.report(logFile: logFile)
        TestEnv.removeScratch(scratch)
    }

    /// Runs SQL with psql (`-XAtq`, stops at the first error) and returns its output, trimmed.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") async throws -> String {
        let args = [
            "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", socketDir, "-p", "\(port)", "-U", "postgres",
            "-d", database, "-c", sql,
        ]
        let out = try await TestEnv.run(pgCommand("psql", args))
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The last lines of the server log (for failure messages).
    func logTail(lines: Int = 40) -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else {
            return "(no server log at \(logFile))"
        }
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// Runs `body` with a fresh, started cluster and always stops and removes it afterwards.
func withCluster<T>(
    _ binDir: String, configure: String? = nil,
    _ body: (PGCluster) async throws -> T
) async throws -> T {
    let cluster = try await PGCluster(binDir: binDir)
    defer { cluster.destroy() }
    if let configure { try cluster.appendConf(configure) }
    try await cluster.start()
    return try await body(cluster)
}
