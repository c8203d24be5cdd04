import Foundation

/// The entry point the executable calls: load the config, check the role, dispatch, map errors.
public enum Walmgr {
    /// The version `--version` prints.
    public static let version = "0.1.0"

    /// A command handler.
    typealias Handler = @Sendable (CommandContext) async throws -> Int32

    /// Handlers by command name; commands absent here are not implemented yet.
    static let handlers: [String: Handler] = [
        "xarchive": XArchive.run,
        "xreceive": XReceive.run,
        "stop": MasterStop.run,
        "backup": byRole(master: MasterBackup.run, slave: StandbyBackup.run),
        "listbackups": ListBackups.run,
        "xlock": SlaveBackupHelpers.lock,
        "xrelease": SlaveBackupHelpers.release,
        "xrotate": SlaveBackupHelpers.rotate,
        "xpurgewals": SlaveBackupHelpers.purge,
        "xbackupprep": SlaveBackupHelpers.prepare,
        "xbackupfile": SlaveBackupHelpers.writeFile,
        "xwalcheck": SlaveBackupHelpers.checkWAL,
        "setup": byRole(master: MasterSetup.run, slave: SlaveSetup.run),
        "xrestore": XRestore.run,
        "restore": Restore.run,
        "verify": Verify.run,
        "restore-point": RestorePoint.run,
        "boot": Boot.run,
        "pause": Replay.pause,
        "continue": Replay.resume,
        "cleanup": Cleanup.run,
        "synch-standby": SynchStandby.run,
        "check": Check.run,
        "status": Status.run,
        "xstandbyfloor": SlaveBackupHelpers.standbyFloor,
        "xversion": SlaveProbe.version,
        "xspace": SlaveProbe.space,
        "xstreamuser": SlaveProbe.streamUser,
        "sync": SyncDaemon.once,
        "syncdaemon": SyncDaemon.run,
        "xpartialsync": XPartialSync.run,
        "receive": ReceiveCommand.run,
    ]

    /// A handler that runs `master` for a master config and `slave` for a slave config.
    static func byRole(master: @escaping Handler, slave: @escaping Handler) -> Handler {
        { context in
            try await (context.config.role == .master ? master : slave)(context)
        }
    }

    /// Runs one invocation and returns the process exit status.
    public static func run(
        _ invocation: Invocation, runner: any ProcessRunning = SubprocessRunner()
    )
        async -> Int32
    {
        guard let spec = CommandCatalog.spec(invocation.command) else {
            writeStderr(CommandCatalog.unknown(invocation.command))
            return 64
        }
        let bootLog = Log(verbose: invocation.verbose, quiet: invocation.quiet)
        do {
            if let index = spec.nameArgument, index < invocation.arguments.count {
                // xreceive's NAME may carry a compression suffix; the WAL part is still strict.
                _ = try ArchivedWAL.validate(invocation.arguments[index], command: spec.name)
            }
            let loaded = try ConfigLoader.load(
                path: invocation.configPath, overrides: invocation.overrides)
            let log = Log(
                verbose: invocation.verbose, quiet: invocation.quiet,
                logfile: loaded.config.common.logfile)
            for warning in loaded.warnings { log.warning(warning) }
            let role = loaded.config.role
            guard spec.roles.contains(role) else {
                let other = role == .master ? "slave" : "master"
                log.error(
                    "\(spec.name) runs on the \(other), but \(invocation.configPath) is a \(role.rawValue) config "
                        + "(a config with master_data is a master config). Run it with the \(other)'s ini"
                )
                return 1
            }
            let (rest, options) = try takeOptions(invocation.arguments, for: spec)
            let (positional, flags) = try split(rest, for: spec)
            let context = CommandContext(
                config: loaded.config, log: log, runner: runner, notReally: invocation.notReally,
                arguments: positional, flags: flags, invocation: invocation, options: options)
            guard let handler = handlers[spec.name] else {
                log.error("\(spec.name) is not implemented yet in walmgr \(version)")
                return 1
            }
            let status = try await handler(context)
            return spec.calledByPostgres ? min(status, 1) : status
        } catch let error as any WalmgrError {
            bootLog.error(error.description)
            Status.reportFailure(error.description, invocation: invocation)
            return spec.calledByPostgres ? min(error.exitCode, 1) : error.exitCode
        } catch {
            bootLog.error("\(spec.name) failed: \(error)")
            Status.reportFailure("\(spec.name) failed: \(error)", invocation: invocation)
            return 1
        }
    }

    /// Splits a command's arguments into positionals and known flags.
    static func split(_ arguments: [String], for spec: CommandSpec) throws(WalmgrFailure)
        -> ([String], Set<String>)
    {
        var positional: [String] = []
        var flags: Set<String> = []
        for argument in arguments {
            if spec.flags.contains(argument) {
                flags.insert(argument)
            } else if argument.hasPrefix("--") || (argument.hasPrefix("-") && argument.count == 2) {
                throw WalmgrFailure(
                    "\(spec.name) does not take \(argument). Usage: walmgr CONFIG.ini \(spec.name) \(spec.usage)",
                    exitCode: 64)
            } else {
                positional.append(argument)
            }
        }
        guard spec.positional.contains(positional.count) else {
            throw WalmgrFailure(
                "\(spec.name) takes \(spec.positional.lowerBound == spec.positional.upperBound ? "\(spec.positional.lowerBound)" : "\(spec.positional.lowerBound) to \(spec.positional.upperBound)") "
                    + "argument(s), got \(positional.count). Usage: walmgr CONFIG.ini \(spec.name) \(spec.usage)",
                exitCode: 64)
        }
        return (positional, flags)
    }

    /// Takes the options that carry a value (`--opt VALUE` or `--opt=VALUE`) out of the
    /// arguments; a missing or repeated value is a usage error.
    static func takeOptions(_ arguments: [String], for spec: CommandSpec) throws(WalmgrFailure)
        -> ([String], [String: String])
    {
        var rest: [String] = []
        var options: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            let (name, inline) =
                argument.firstIndex(of: "=").map {
                    (String(argument[..<$0]), String(argument[argument.index(after: $0)...]))
                } ?? (argument, nil)
            guard spec.options.contains(name) else {
                rest.append(argument)
                continue
            }
            let value = inline ?? (index < arguments.count ? arguments[index] : nil)
            if inline == nil { index += 1 }
            guard let value, inline != nil || !value.hasPrefix("--") else {
                throw WalmgrFailure(
                    "\(name) needs a value. Usage: walmgr CONFIG.ini \(spec.name) \(spec.usage)",
                    exitCode: 64)
            }
            guard options.updateValue(value, forKey: name) == nil else {
                throw WalmgrFailure("\(name) is given twice; give it once", exitCode: 64)
            }
        }
        return (rest, options)
    }

    /// Writes a message to stderr unbuffered.
    static func writeStderr(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
