import Foundation

/// What the DBA asked for on the command line, after the executable parsed global options.
public struct Invocation: Sendable {
    /// The INI file.
    public var configPath: String
    /// The command word.
    public var command: String
    /// Everything after the command word.
    public var arguments: [String]
    /// `-v`: debug logging.
    public var verbose = false
    /// `-q`: warnings and errors only.
    public var quiet = false
    /// `-n`: say what would change, change nothing.
    public var notReally = false
    /// `--set KEY=VALUE` overrides.
    public var overrides: [String] = []

    /// Creates an invocation.
    public init(configPath: String, command: String, arguments: [String]) {
        self.configPath = configPath
        self.command = command
        self.arguments = arguments
    }
}

/// Everything a command handler needs: the loaded config, the logger, the process runner.
public struct CommandContext: Sendable {
    /// The loaded configuration.
    public let config: WalmgrConfig
    /// The logger.
    public let log: Log
    /// Runs external programs.
    public let runner: any ProcessRunning
    /// `-n`: change nothing.
    public let notReally: Bool
    /// Positional arguments after the command word.
    public let arguments: [String]
    /// Flags given after the command word.
    public let flags: Set<String>
    /// Global options, to pass on to walmgr calls on the slave.
    public let invocation: Invocation
    /// Options given with a value after the command word (`--target-time T`).
    public var options: [String: String] = [:]

    /// True when the flag was given.
    public func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// The absolute path of the running walmgr binary.
    public static let executablePath: String = {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
    }()
}
