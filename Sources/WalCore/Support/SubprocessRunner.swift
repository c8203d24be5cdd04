import CLinux
import Foundation
import Subprocess
import SystemPackage

/// Runs commands with swift-subprocess: argv only, stdout captured, stderr's tail kept.
public struct SubprocessRunner: ProcessRunning {
    /// The most stdout a command may produce before the run fails.
    static let stdoutLimit = 256 * 1024 * 1024
    static let stderrLimit = 16 * 1024 * 1024

    /// Creates a runner.
    public init() {}

    public func run(_ command: Command, input: ProcessInput, timeout: Duration?) async throws
        -> ProcessResult
    {
        let configuration = try Self.configuration(for: command)
        guard let timeout else { return try await Self.collect(configuration, input) }
        return try await withThrowingTaskGroup(of: ProcessResult?.self) { group in
            group.addTask { try await Self.collect(configuration, input) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            return ProcessResult(
                status: 124, timedOut: true, stderrTail: "timed out after \(timeout)")
        }
    }

    static func configuration(for command: Command) throws -> Configuration {
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]
        var env: [Environment.Key: String?] = [:]
        for (key, value) in command.environment {
            if let k = Environment.Key(rawValue: key) { env[k] = value }
        }
        var command = command
        if let user = command.user, getuid() == 0, let account = UserAccount(name: user) {
            // setpriv switches user in its own single-threaded process. Setting uid/gid/groups
            // between fork and exec of this multithreaded process can deadlock in glibc's
            // setxid broadcast (seen: setgroups waiting forever on the stack-cache lock).
            command.arguments =
                [
                    "--reuid=\(account.uid)", "--regid=\(account.gid)", "--init-groups", "--",
                    command.executable,
                ] + command.arguments
            command.executable = "/usr/bin/setpriv"
            env["HOME"] = env["HOME"] ?? account.home
            env["USER"] = user
            env["LOGNAME"] = user
        }
        let executable: Executable =
            command.executable.contains("/")
            ? .path(FilePath(command.executable))
            : Self.lookUp(command.executable, path: command.environment["PATH"])
                .map { .path(FilePath($0)) } ?? .name(command.executable)
        return Configuration(
            executable: executable, arguments: Arguments(command.arguments),
            environment: .inherit.updating(env),
            workingDirectory: command.workingDirectory.map { FilePath($0) },
            platformOptions: options)
    }

    /// A bare program name's file in PATH, found with stat(2). Left to swift-subprocess, the
    /// search spawns a process per PATH entry until one execs (restore's `cp`, with 13 entries
    /// before /usr/bin, started 13 processes that exited 127); nil when no entry has it
    /// (swift-subprocess then searches and reports the failure as before).
    static func lookUp(_ name: String, path: String? = nil) -> String? {
        let search = path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in search.split(separator: ":") where dir.hasPrefix("/") {
            let candidate = "\(dir)/\(name)"
            var st = stat()
            if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
                access(candidate, X_OK) == 0
            {
                return candidate
            }
        }
        return nil
    }

    static func collect(_ configuration: Configuration, _ input: ProcessInput) async throws
        -> ProcessResult
    {
        let out = BytesOutput(limit: stdoutLimit)
        let err = BytesOutput(limit: stderrLimit)
        let result: ExecutionResult<Void, BytesOutput, BytesOutput>
        switch input {
        case .none:
            result = try await Subprocess.run(configuration, input: .none, output: out, error: err)
        case .bytes(let bytes):
            // The bytes go in through an in-memory file rather than a pipe this process writes:
            // a child that exits without reading them all (a refusal, a dropped connection)
            // then cannot fail the run with EPIPE or kill this process with SIGPIPE.
            guard let file = try? MemoryFile(bytes) else {
                result = try await Subprocess.run(
                    configuration, input: .array(bytes), output: out, error: err)
                break
            }
            defer { close(file.fd) }
            result = try await Subprocess.run(
                configuration,
                input: .fileDescriptor(
                    FileDescriptor(rawValue: file.fd), closeAfterSpawningProcess: false),
                output: out, error: err)
        case .fileDescriptor(let fd):
            result = try await Subprocess.run(
                configuration,
                input: .fileDescriptor(
                    FileDescriptor(rawValue: fd), closeAfterSpawningProcess: false),
                output: out, error: err)
        }
        let tail = stderrTail(result.standardError)
        switch result.terminationStatus {
        case .exited(let code):
            return ProcessResult(status: code, stdout: result.standardOutput, stderrTail: tail)
        case .signaled(let signal):
            return ProcessResult(
                status: 128 + signal, signaled: true, stdout: result.standardOutput,
                stderrTail: tail)
        }
    }

    /// The last 20 lines of stderr, trimmed.
    static func stderrTail(_ bytes: [UInt8], lines: Int = 20) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
            .joined(separator: "\n")
    }
}

typealias BytesOutput = Subprocess.BytesOutput

extension Subprocess.BytesOutput {
    init(limit: Int) { self = .bytes(limit: limit) }
}

/// An anonymous in-memory file (memfd) for a child's stdin; the owner closes `fd`.
struct MemoryFile {
    static let name = "an in-memory file"
    let fd: Int32
    /// Bytes written so far.
    private(set) var size = 0

    /// An empty file.
    init() throws {
        fd = walmgr_memfd("walmgr-input")
        guard fd >= 0 else { throw FileError("create", Self.name) }
    }

    /// A file holding `bytes`, positioned at the start.
    init(_ bytes: [UInt8]) throws {
        try self.init()
        do {
            try bytes.withUnsafeBytes { try write($0) }
            try rewind()
        } catch {
            close(fd)
            throw error
        }
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try Durable.writeAll(fd, bytes, path: Self.name)
        size += bytes.count
    }

    /// Back to the start, for the reader.
    func rewind() throws {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw FileError("seek", Self.name) }
    }
}
