import Foundation

/// The syncdaemon's lock, held with `flock` for the daemon's whole life: a second daemon on the
/// same config cannot take it, and a file left by a killed daemon is not locked, so it is reused.
/// With `pidfile` the pidfile is the lock (it also holds the pid for -s, -k and -r); without
/// one, the config file itself is locked.
final class DaemonLock {
    let path: String
    private let fd: Int32
    private let ownsFile: Bool

    private init(path: String, fd: Int32, ownsFile: Bool) {
        self.path = path
        self.fd = fd
        self.ownsFile = ownsFile
    }

    /// Takes the lock (writing this process's pid into the pidfile), or refuses naming the
    /// running daemon. The pidfile's directory is created (0700) when missing.
    static func acquire(pidfile: String?, configFile: String, daemon: String = "syncdaemon")
        throws -> DaemonLock
    {
        guard let pidfile, !pidfile.isEmpty else {
            guard let fd = try lock(configFile, create: false) else {
                throw WalmgrFailure(
                    "another \(daemon) runs with \(configFile) (it holds a lock on that file); "
                        + "stop it first. Set pidfile in the config so `\(daemon) -s` can find it")
            }
            return DaemonLock(path: configFile, fd: fd, ownsFile: false)
        }
        try Directories.make((pidfile as NSString).deletingLastPathComponent)
        guard let lock = try take(pidfile) else {
            let pid = DaemonControl.lockedPid(pidfile: pidfile).map(String.init) ?? "unknown"
            throw WalmgrFailure(
                "\(daemon) already runs as pid \(pid) (it holds \(pidfile)); stop it with "
                    + "`walmgr CONFIG.ini \(daemon) -s` before starting another")
        }
        return lock
    }

    /// Locks `pidfile` (created if missing) and writes this process's pid into it; nil when
    /// another process holds it (``DaemonControl/lockedPid(pidfile:)`` names that one).
    static func take(_ pidfile: String) throws -> DaemonLock? {
        guard let fd = try lock(pidfile, create: true) else { return nil }
        let text = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0,
            text.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == text.count
        else {
            close(fd)
            throw FileError("write", pidfile)
        }
        return DaemonLock(path: pidfile, fd: fd, ownsFile: true)
    }

    /// An fd holding `flock` on `path`, or nil when another process holds it. The inode is
    /// checked after the lock: a daemon that just exited may have removed the file we opened.
    private static func lock(_ path: String, create: Bool) throws -> Int32? {
        while true {
            let flags = (create ? O_RDWR | O_CREAT | O_NOFOLLOW : O_RDONLY) | O_CLOEXEC
            let fd = open(path, flags, 0o644)
            guard fd >= 0 else { throw FileError(create ? "create" : "open", path) }
            guard try exclusive(fd, path) else {
                close(fd)
                return nil
            }
            var held = stat()
            var named = stat()
            if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino,
                held.st_dev == named.st_dev
            {
                return fd
            }
            close(fd)
        }
    }

    /// `flock(LOCK_EX|LOCK_NB)`, retried briefly: `lockedPid`'s probe holds a shared lock for
    /// an instant (`syncdaemon -d` polls it while its child starts), which is not a daemon.
    private static func exclusive(_ fd: Int32, _ path: String) throws -> Bool {
        for attempt in 0..<5 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            guard errno == EWOULDBLOCK else { throw FileError("lock", path) }
            if attempt < 4 { usleep(20_000) }
        }
        return false
    }

    /// Removes the pidfile (never the config file) and drops the lock.
    func release() {
        if ownsFile { unlink(path) }
        close(fd)
    }
}

extension DaemonControl {
    /// The pid in `pidfile` while a daemon holds its lock; nil when none runs.
    static func lockedPid(pidfile: String?) -> pid_t? {
        guard let pidfile else { return nil }
        let fd = open(pidfile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return livePid(pidfile: pidfile)
    }
}

/// `syncdaemon -d`, `receive -d`: start a detached copy of this walmgr.
///
/// fork() is unsafe once Swift's runtime has started threads, so the daemon is a new process:
/// posix_spawn of the same binary and arguments (without -d) in a new session (setsid), stdin
/// from /dev/null and stdout/stderr appended to `logfile`. The child logs only to stderr, so
/// each line appears once in the logfile.
enum DaemonProcess {
    static func detach(_ config: MasterConfig, _ context: CommandContext) async throws -> Int32 {
        try await detach(common: config.common, daemon: "syncdaemon", context)
    }

    /// Starts `daemon` (the command word: syncdaemon, receive) in the background.
    static func detach(common: CommonConfig, daemon: String, _ context: CommandContext)
        async throws -> Int32
    {
        guard let pidfile = common.pidfile, !pidfile.isEmpty else {
            throw WalmgrFailure(
                "\(daemon) -d needs pidfile in \(common.configFile) so -s and -k can find "
                    + "it; add pidfile = /var/run/walmgr/%(job_name)s.pid")
        }
        if let pid = DaemonControl.lockedPid(pidfile: pidfile) {
            throw WalmgrFailure("\(daemon) already runs as pid \(pid) (it holds \(pidfile))")
        }
        let logfile = common.logfile ?? "/dev/null"
        if context.notReally {
            context.log.info("would start \(daemon) in the background, logging to \(logfile)")
            return 0
        }
        try Directories.make((logfile as NSString).deletingLastPathComponent)
        try Directories.make((pidfile as NSString).deletingLastPathComponent)
        let pid = try spawn(
            arguments: childArguments(context.invocation, command: daemon), logfile: logfile)
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if DaemonControl.lockedPid(pidfile: pidfile) == pid {
                print("\(daemon) started as pid \(pid); log: \(logfile), pidfile: \(pidfile)")
                return 0
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw WalmgrFailure(
                    "\(daemon) exited at once (wait status \(status)); its reason is in \(logfile)"
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WalmgrFailure(
            "\(daemon) pid \(pid) did not take \(pidfile) within 15 s; see \(logfile)")
    }

    /// The child's argv: global flags, overrides, the absolute ini path, the command.
    static func childArguments(_ invocation: Invocation, command: String = "syncdaemon")
        -> [String]
    {
        var argv = [CommandContext.executablePath]
        if invocation.verbose { argv.append("-v") }
        if invocation.quiet { argv.append("-q") }
        for override in invocation.overrides { argv += ["--set", override] }
        let ini = invocation.configPath
        let absolute =
            ini.hasPrefix("/") ? ini : FileManager.default.currentDirectoryPath + "/" + ini
        return argv + [absolute, command]
    }

    /// glibc's POSIX_SPAWN_SETSID (2.26+), which the Swift Glibc module does not import.
    static let spawnSetsid: Int32 = 0x80

    /// posix_spawn with POSIX_SPAWN_SETSID and a clean signal mask.
    static func spawn(arguments: [String], logfile: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logfile, O_WRONLY | O_APPEND | O_CREAT, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        posix_spawnattr_setflags(&attr, Int16(spawnSetsid | POSIX_SPAWN_SETSIGMASK))
        var environment = ProcessInfo.processInfo.environment
        environment[SyncDaemon.childMarker] = "1"
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attr, argv, envp)
        guard rc == 0 else {
            throw WalmgrFailure(
                "could not start \(arguments[0]) in the background: \(String(cString: strerror(rc)))"
            )
        }
        return pid
    }
}
