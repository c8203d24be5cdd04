import Testing

@testable import WalCore

/// The argv walmgr hands ssh and rsync: a host never becomes an option, remote paths never pass
/// through the remote shell, and every `ssh_options` word reaches ssh intact through rsync's `-e`.
@Suite struct TransportArgvTests {
    @Test(arguments: [
        ("standby", true), ("postgres@10.0.0.2", true), ("db-2.example.com", true),
        ("db_2", true), ("fe80::1", true), ("[fe80::1%eth0]", true), ("user@[::1]", true),
        ("::ffff:10.0.0.1", true), ("-oProxyCommand=x", false), ("user@-x", false),
        ("-l", false), ("", false), ("a b", false), ("a\tb", false), ("a\nb", false),
        ("db;id", false), ("$(id)", false), ("`id`", false), ("db'x", false), ("h/x", false),
        ("h:/x", false), ("[::1", false), ("[db]", false), ("u@@h", false), ("@h", false),
        ("fe80::1%e th", false), (String(repeating: "a", count: 256), false),
    ])
    func validHosts(host: String, valid: Bool) {
        #expect(Location.isValidHost(host) == valid, "\(host.debugDescription)")
    }

    /// ssh stops reading options at `--`, so the host cannot become one.
    @Test func sshPutsTheHostAfterDoubleDash() {
        let command = SSH(host: "-oProxyCommand=id", options: [], controlDir: nil).command(["x"])
        #expect(Array(command.arguments.suffix(3)) == ["--", "-oProxyCommand=id", "x"])
        #expect(SSH(host: "u@[::1]", options: [], controlDir: nil).host == "u@::1")
    }

    /// rsync gets `-s` and an `-e` value whose words survive rsync's own splitting intact,
    /// ending in `-l USER --` so the host rsync appends is no option.
    @Test func rsyncGetsProtectArgsAndAnExactRemoteShell() throws {
        let options = [
            "-o", "UserKnownHostsFile=/k/it's here/known", "-i", "/k/\"q\" x", "-p", "22",
        ]
        let ssh = SSH(host: "postgres@db2", options: options, controlDir: nil)
        let command = BackupCopy.rsync(
            source: "/data", destination: Location("postgres@db2:/w/it's $(id)"), ssh: ssh,
            compress: false, excludes: ["/postmaster.pid"])
        let args = command.arguments
        #expect(args.contains("-s"))
        let e = try #require(args.firstIndex(of: "-e"))
        #expect(
            Self.rsyncSplit(args[e + 1])
                == ["ssh"] + ssh.baseArguments + ["-l", "postgres", "--"])
        #expect(Array(args.suffix(3)) == ["--", "/data/", "db2:/w/it's $(id)/"])

        let v6 = SSH(host: "::1", options: [], controlDir: nil)
        let files = BackupCopy.rsyncFiles(
            ["/etc/pg.conf"], destination: Location("[::1]:/w"), ssh: v6, compress: false)
        #expect(files.arguments.contains("-s"))
        #expect(Array(files.arguments.suffix(3)) == ["--", "/etc/pg.conf", "[::1]:/w/"])
        #expect(Self.rsyncSplit(v6.rsyncShell).suffix(1) == ["--"])
    }

    @Test(arguments: ["", "a", "it's", "''", "a b", "\"x\" 'y'", "tab\there", "\\'\\"])
    func rsyncQuoteRoundTrips(word: String) {
        #expect(Self.rsyncSplit(ShellWords.rsyncQuote(word) + " z") == [word, "z"])
    }

    /// rsync's splitting of the `-e` value (main.c, do_cmd): spaces separate; '…' and "…"
    /// group; a doubled quote inside a group is one quote; nothing else is special.
    static func rsyncSplit(_ value: String) -> [String] {
        var words: [String] = []
        var chars = Array(value)[...]
        while let first = chars.first {
            if first == " " {
                chars.removeFirst()
                continue
            }
            var word = ""
            var quote: Character?
            while let c = chars.popFirst() {
                if c == " " && quote == nil { break }
                if c == quote && chars.first != quote {
                    quote = nil
                    continue
                }
                if c == quote {
                    chars.removeFirst()
                } else if quote == nil && (c == "'" || c == "\"") {
                    quote = c
                    continue
                }
                word.append(c)
            }
            words.append(word)
        }
        return words
    }

    /// `check` connects afresh: a ControlMaster left from archiving would hide a removed key,
    /// and with the link down its stale connection made `check` wait ~50 s instead of 10.
    @Test func checkDoesNotReuseTheControlMaster() async throws {
        let common = CommonConfig(
            configFile: "/etc/walmgr/wal-master.ini", jobName: "t", walmgrData: "/srv/w",
            sshReuseConnection: true, slaveWalmgr: "/usr/bin/walmgr")
        let config = MasterConfig(
            common: common, masterData: "/srv/pgdata", slave: "standby",
            slaveConfig: "/etc/walmgr/wal-slave.ini")
        let context = CommandContext(
            config: .master(config), log: Log(quiet: true), runner: SubprocessRunner(),
            notReally: false, arguments: [], flags: [],
            invocation: Invocation(configPath: common.configFile, command: "check", arguments: []))
        let check = MasterCheck(config: config, context: context, report: CheckReport(printer: nil))
        let argv = try #require(check.slaveLink()).command("xversion").arguments
        #expect(!argv.contains { $0.hasPrefix("ControlMaster") }, "\(argv)")
        let archiving = try SlaveLink(config: config, invocation: nil).command("xversion")
        #expect(archiving.arguments.contains("ControlMaster=auto"))
    }
}
