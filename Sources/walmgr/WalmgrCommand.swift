import ArgumentParser
import Foundation
import WalCore

/// `walmgr [options] CONFIG.ini COMMAND [ARGS...]`: parse, call WalCore, exit with its status.
@main
struct WalmgrCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walmgr",
        abstract:
            "Ship PostgreSQL WAL from a master to a standby (a successor of Skytools walmgr3).",
        usage: """
            walmgr [-v|-q|-n] [--set KEY=VALUE]... CONFIG.ini COMMAND [ARGS...]
            walmgr [-d|-s|-k|-r] CONFIG.ini syncdaemon
            walmgr [-d|-s|-k] SLAVE.ini receive
            walmgr --init-master --slave HOST [--pgdata DIR] [--config-dir DIR]
                                 [--ssh-keygen]
            walmgr --init-slave [--pgdata DIR] [--config-dir DIR]
                                [--ssh-add-key FILE] [--primary-conninfo CONNINFO]
                                [--add-password FILE]
            """,
        discussion: "Commands:\n" + CommandCatalog.listing
            + "\n\nwalmgr help COMMAND (or CONFIG.ini COMMAND --help) explains one command."
            + "\nFull reference: docs/walmgr.md. Exit codes: 0 ok, 1 failure, 64 usage error.",
        version: Walmgr.version)

    @Flag(name: .shortAndLong, help: "Log debug lines too.") var verbose = false
    @Flag(name: .shortAndLong, help: "Log warnings and errors only.") var quiet = false
    @Flag(name: [.customShort("n"), .long], help: "Say what would change; change nothing.")
    var notReally = false
    @Option(name: .customLong("set"), help: "Override a config key (repeatable).")
    var overrides: [String] = []
    @Flag(name: .customShort("d"), help: "syncdaemon, receive: run in the background.")
    var daemon = false
    @Flag(name: .customShort("s"), help: "syncdaemon, receive: stop the running one.")
    var stop = false
    @Flag(name: .customShort("k"), help: "syncdaemon, receive: kill the running one.")
    var kill = false
    @Flag(name: .customShort("r"), help: "syncdaemon: reload the running one's config.")
    var reload = false

    @Flag(help: "Write a master config (wal-master.ini).") var initMaster = false
    @Flag(help: "Write a slave config (wal-slave.ini).") var initSlave = false
    @Option(help: "The slave's host name (--init-master).") var slave: String?
    @Option(help: "The data directory (--init-*).") var pgdata: String?
    @Option(help: "Where to write the config (--init-*).") var configDir: String?
    @Flag(help: "Generate an ed25519 ssh key for the master (--init-master).") var sshKeygen = false
    @Option(help: "Authorize this public key file (--init-slave).") var sshAddKey: String?
    @Option(help: "Conninfo the standby streams from (--init-slave).") var primaryConninfo: String?
    @Option(help: "Add this .pgpass line from a file (--init-slave).") var addPassword: String?

    @Argument(parsing: .allUnrecognized, help: "CONFIG.ini COMMAND [ARGS...]")
    var words: [String] = []

    /// Per-command help first (`help COMMAND`, `CONFIG COMMAND --help`): ArgumentParser would
    /// otherwise answer `--help` with the global help.
    static func main() async {
        // A reader that went away (ssh dropped, stderr closed) makes a write fail with EPIPE,
        // which walmgr reports, instead of killing it with a signal: xarchive and xrestore must
        // never end above 125. Children get the default back (swift-subprocess resets it).
        signal(SIGPIPE, SIG_IGN)
        if let help = CommandHelp.intercept(Array(CommandLine.arguments.dropFirst())) {
            FileHandle.standardOutput.write(Data(help.text.utf8))
            Foundation.exit(help.status)
        }
        // `CONFIG COMMAND ARGS` without options is how PostgreSQL runs xarchive and xrestore, once
        // per WAL segment: skip the argument parser's reflection-heavy set-up (about 1.5 ms).
        let words = Array(CommandLine.arguments.dropFirst())
        if words.count >= 2, !words.contains(where: { $0.hasPrefix("-") }) {
            let invocation = Invocation(
                configPath: words[0], command: words[1], arguments: Array(words.dropFirst(2)))
            Foundation.exit(await Walmgr.run(invocation))
        }
        await main(nil)
    }

    func run() async throws {
        if initMaster || initSlave {
            let request = InitRequest(
                master: initMaster, slave: slave, pgdata: pgdata, configDir: configDir,
                sshKeygen: sshKeygen, sshAddKey: sshAddKey, primaryConninfo: primaryConninfo,
                addPassword: addPassword, notReally: notReally, verbose: verbose, quiet: quiet)
            throw ExitCode(await Initializer.run(request))
        }
        guard words.count >= 2 else {
            throw ValidationError("expected CONFIG.ini COMMAND; see walmgr --help")
        }
        // walmgr3 took -d/-s/-k/-r before the config; they belong to the command (syncdaemon, receive).
        let daemonFlags = [("-d", daemon), ("-s", stop), ("-k", kill), ("-r", reload)]
            .filter { $0.1 }.map(\.0)
        var invocation = Invocation(
            configPath: words[0], command: words[1],
            arguments: Array(words.dropFirst(2)) + daemonFlags)
        invocation.verbose = verbose
        invocation.quiet = quiet
        invocation.notReally = notReally
        invocation.overrides = overrides
        throw ExitCode(await Walmgr.run(invocation))
    }
}
