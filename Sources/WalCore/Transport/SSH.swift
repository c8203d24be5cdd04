import Foundation

/// Builds ssh commands for one host: strict host key checking, batch mode, optional connection reuse.
public struct SSH: Sendable, Equatable {
    /// The host (may include `user@`).
    public let host: String
    /// Extra options from `ssh_options`.
    public let options: [String]
    /// The ControlMaster socket directory, or nil when connections are not reused.
    public let controlDir: String?
    /// `compression = 1`: ssh -C.
    public let compress: Bool

    /// Creates an ssh builder.
    public init(host: String, options: [String], controlDir: String?, compress: Bool = false) {
        self.host = host
        self.options = options
        self.controlDir = controlDir
        self.compress = compress
    }

    /// The ssh argv up to (not including) the remote command.
    public var baseArguments: [String] {
        var args = ["-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if let controlDir {
            args += [
                "-o", "ControlMaster=auto", "-o", "ControlPath=\(controlDir)/%C",
                "-o", "ControlPersist=300",
            ]
        }
        if compress { args.append("-C") }
        // ssh keeps the first value it sees for an option, so these defaults come after
        // ssh_options. Without them a dead link or a silently rebooted slave leaves
        // archive_command hanging for the kernel's TCP timeout (~15 min) instead of failing.
        return args + options + Self.livenessDefaults
    }

    /// Give up on a connect after 10 s and on an established connection after 30 s of silence.
    public static let livenessDefaults = [
        "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3",
    ]

    /// A command that runs `argv` on the host; each word is shell-quoted for the remote shell.
    public func command(_ argv: [String]) -> Command {
        Command("ssh", baseArguments + [host, "--"] + argv.map(ShellWords.quote))
    }

    /// The `-e` value for rsync: ssh and its options, each quoted for rsync's own word splitting.
    public var rsyncShell: String {
        (["ssh"] + baseArguments).map(ShellWords.quote).joined(separator: " ")
    }

    /// A private 0700 directory for control sockets, owned by the current user.
    /// - Throws: ``FileError`` when it cannot be created or is not private.
    public static func privateControlDir() throws -> String {
        let base =
            ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].flatMap {
                access($0, W_OK) == 0 ? $0 : nil
            } ?? "/tmp"
        let dir = "\(base)/walmgr-ssh-\(geteuid())"
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw FileError("create", dir) }
        var st = stat()
        guard lstat(dir, &st) == 0 else { throw FileError("stat", dir) }
        guard (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0
        else {
            throw FileError(
                "use", dir, errno: EPERM,
                hint: "the ssh control directory must be a directory owned by you with mode 0700; "
                    + "remove it and walmgr recreates it")
        }
        return dir
    }
}
