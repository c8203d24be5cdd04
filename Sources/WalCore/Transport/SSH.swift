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

    /// Creates an ssh builder; an IPv6 host may come in brackets (`[::1]`), ssh gets it without.
    public init(host: String, options: [String], controlDir: String?, compress: Bool = false) {
        self.host = Location.sshHost(host)
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
    ///
    /// `--` comes before the host: ssh then reads no option after it, so even a host that starts
    /// with `-` (the config check refuses one) could not become `-oProxyCommand=…`.
    public func command(_ argv: [String]) -> Command {
        Command("ssh", baseArguments + ["--", host] + argv.map(ShellWords.quote))
    }

    /// The `-e` value for rsync: ssh, its options, `-l USER` for a `user@host`, and `--`, each
    /// word quoted for rsync's own splitting (``ShellWords/rsyncQuote(_:)``).
    ///
    /// rsync appends the host of the `host:path` argument after this value, so the `--` puts
    /// that host out of ssh's option parsing; the user goes in as `-l` because rsync would add
    /// its own `-l USER` after the `--`. Pair it with a `host:path` without `user@`
    /// (``BackupCopy/target(_:)``).
    public var rsyncShell: String {
        let login = Location.splitUser(host).user.map { ["-l", $0] } ?? []
        return (["ssh"] + baseArguments + login + ["--"]).map(ShellWords.rsyncQuote)
            .joined(separator: " ")
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
