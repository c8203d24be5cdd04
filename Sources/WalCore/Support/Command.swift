/// A program to run, as a value: an executable and its argv, never a shell string.
public struct Command: Sendable, Equatable, CustomStringConvertible {
    /// An absolute path, or a bare name looked up in PATH.
    public var executable: String
    /// The arguments after argv[0].
    public var arguments: [String]
    /// Variables added to (or replacing those of) the inherited environment.
    public var environment: [String: String]
    /// The working directory, or nil to inherit.
    public var workingDirectory: String?
    /// Run as this user (only possible when walmgr runs as root).
    public var user: String?

    /// Creates a command from an executable and its arguments.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String] = [:],
        workingDirectory: String? = nil, user: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
    }

    /// Creates a command from an argv array (argv[0] is the executable).
    public init(argv: [String]) {
        self.init(argv.first ?? "", Array(argv.dropFirst()))
    }

    /// The argv as the DBA would type it, each word quoted for a POSIX shell (for logs only).
    public var description: String {
        ([executable] + arguments).map(ShellWords.quote).joined(separator: " ")
    }
}

/// How a process ended. A non-zero exit is a normal result, not a thrown error.
public struct ProcessResult: Sendable {
    /// The exit status, or 128+signal when the process was killed by a signal.
    public let status: Int32
    /// True when a signal ended the process.
    public let signaled: Bool
    /// True when walmgr killed the process because it ran past its timeout.
    public let timedOut: Bool
    /// Everything the process wrote to stdout (up to the runner's limit).
    public let stdout: [UInt8]
    /// The last lines of stderr, for error messages.
    public let stderrTail: String

    /// True when the process exited 0.
    public var succeeded: Bool { status == 0 && !signaled && !timedOut }
    /// Stdout decoded as UTF-8.
    public var output: String { String(decoding: stdout, as: UTF8.self) }

    /// Creates a result (used by fakes in tests too).
    public init(
        status: Int32, signaled: Bool = false, timedOut: Bool = false, stdout: [UInt8] = [],
        stderrTail: String = ""
    ) {
        self.status = status
        self.signaled = signaled
        self.timedOut = timedOut
        self.stdout = stdout
        self.stderrTail = stderrTail
    }

    /// A short phrase for logs: "exit 23", "killed by signal 9", "timed out".
    public var statusText: String {
        if timedOut { return "timed out" }
        return signaled ? "killed by signal \(status - 128)" : "exit \(status)"
    }
}

/// Where a process's standard input comes from.
public enum ProcessInput: Sendable {
    /// No input (/dev/null).
    case none
    /// These bytes.
    case bytes([UInt8])
    /// This file descriptor (not closed by the runner).
    case fileDescriptor(Int32)
}

/// Runs commands. Unit tests inject a fake; everything else uses ``SubprocessRunner``.
public protocol ProcessRunning: Sendable {
    /// Runs a command to completion and returns how it ended.
    func run(_ command: Command, input: ProcessInput, timeout: Duration?) async throws
        -> ProcessResult
}

extension ProcessRunning {
    /// Runs a command with no input and no timeout.
    public func run(_ command: Command) async throws -> ProcessResult {
        try await run(command, input: .none, timeout: nil)
    }
}
