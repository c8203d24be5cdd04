import Foundation

/// Every walmgr command: its name, the role it runs on, its usage and one-line summary.
public struct CommandSpec: Sendable {
    /// The command word, e.g. `xarchive`.
    public let name: String
    /// The roles it runs on.
    public let roles: Set<Role>
    /// Arguments after the command word, for usage lines.
    public let usage: String
    /// One line for `--help`.
    public let summary: String
    /// Flags the command accepts after its name (e.g. `--json`).
    public let flags: [String]
    /// Options that take a value (`--target-time T` or `--target-time=T`).
    public let options: [String]
    /// How many positional arguments it takes.
    public let positional: ClosedRange<Int>
    /// True for commands PostgreSQL runs (xarchive, xrestore): never exit above 125.
    public let calledByPostgres: Bool
    /// The index of the WAL file name argument, validated before any I/O.
    public let nameArgument: Int?

    init(
        _ name: String, _ roles: Set<Role>, _ usage: String, _ summary: String,
        flags: [String] = [], options: [String] = [], positional: ClosedRange<Int> = 0...0,
        calledByPostgres: Bool = false, nameArgument: Int? = nil
    ) {
        self.name = name
        self.roles = roles
        self.usage = usage
        self.summary = summary
        self.flags = flags
        self.options = options
        self.positional = positional
        self.calledByPostgres = calledByPostgres
        self.nameArgument = nameArgument
    }
}

/// The catalog of commands, in the order `--help` lists them.
public enum CommandCatalog {
    static let both: Set<Role> = [.master, .slave]

    /// All commands.
    public static let all: [CommandSpec] = [
        CommandSpec(
            "setup", both, "[--hba]",
            "master: configure archiving (--hba: add the standby's pg_hba line); slave: create dirs",
            flags: ["--hba"]),
        CommandSpec(
            "stop", [.master], "", "stop archiving without discarding WAL; stop syncdaemon"),
        CommandSpec(
            "synch-standby", [.master], "NAMES",
            "set synchronous_standby_names if those standbys are connected (\"\" turns it off)",
            positional: 1...1),
        CommandSpec("backup", both, "", "take a base backup into the slave's full_backup"),
        CommandSpec(
            "xarchive", [.master], "PATH NAME", "archive_command: ship one WAL file durably",
            positional: 2...2, calledByPostgres: true, nameArgument: 1),
        CommandSpec("sync", [.master], "", "ship the current partial WAL segment once"),
        CommandSpec(
            "syncdaemon", [.master], "[-d|-s|-k|-r]",
            "ship the partial segment every loop_delay seconds", flags: ["-d", "-s", "-k", "-r"]),
        CommandSpec(
            "listbackups", both, "[--json]", "list backups, newest first", flags: ["--json"]),
        CommandSpec(
            "status", both, "[--json]", "health summary; exit 1 when unhealthy", flags: ["--json"]),
        CommandSpec(
            "check", both, "[--archive]", "preflight checks with fixes", flags: ["--archive"]),
        CommandSpec(
            "restore", [.slave], "[--move] [--target-KIND VALUE ...] [--standby] [SET] [DST]",
            "put a backup in place as a standby and start it; with a target, recover to that "
                + "point in time", flags: ["--move", "--standby"] + RecoveryTarget.flags,
            options: RecoveryTarget.valueOptions, positional: 0...2),
        CommandSpec(
            "verify", [.slave], "[SET|--all] [--json]",
            "re-read a backup against its checksums; check archived WAL headers and gaps",
            flags: ["--all", "--json"], positional: 0...1),
        CommandSpec(
            "restore-point", [.master], "NAME",
            "create a named restore point (pg_create_restore_point) and print its LSN",
            positional: 1...1),
        CommandSpec("boot", [.slave], "", "end recovery: promote the standby and wait"),
        CommandSpec("pause", [.slave], "", "pause WAL replay"),
        CommandSpec("continue", [.slave], "", "resume WAL replay"),
        CommandSpec(
            "receive", [.slave], "[-d|-s|-k]",
            "stream WAL from the master as it is written (replication protocol; receive_*)",
            flags: ["-d", "-s", "-k"]),
        CommandSpec(
            "xrestore", [.slave], "NAME PATH [RESTARTPOINT]",
            "restore_command: hand PostgreSQL one WAL file", positional: 2...3,
            calledByPostgres: true, nameArgument: 0),
        CommandSpec(
            "xpartialsync", [.slave], "NAME OFFSET BYTES [SEGSIZE]",
            "receive partial-segment bytes on stdin (used by sync)", positional: 3...4,
            nameArgument: 0),
        CommandSpec(
            "xreceive", [.slave], "NAME SIZE",
            "receive one archived WAL file on stdin (used by xarchive)",
            positional: 2...2, nameArgument: 0),
        CommandSpec(
            "xlock", [.slave], "[PID [HOST]]",
            "take the backup lock (used by backup); without PID by hand, until xrelease",
            positional: 0...2),
        CommandSpec(
            "xrelease", [.slave], "[PID]", "release the backup lock (PID's only, when given)",
            positional: 0...1),
        CommandSpec(
            "xrotate", [.slave], "[KEEP]",
            "rotate backups after a complete backup, keeping the larger of KEEP and keep_backups",
            positional: 0...1),
        CommandSpec(
            "xpurgewals", [.slave], "[START_WAL]",
            "remove WAL older than the oldest kept backup (and than START_WAL, when given)",
            positional: 0...1, nameArgument: 0),
        CommandSpec(
            "xbackupprep", [.slave], "[--abort]",
            "make (or, with --abort, remove) the in-progress backup dir (used by backup)",
            flags: ["--abort"]),
        CommandSpec(
            "xbackupfile", [.slave], "NAME",
            "write stdin durably as backup_label, tablespace_map or the manifest (used by backup)",
            positional: 1...1),
        CommandSpec(
            "xwalcheck", [.slave], "FIRST LAST SEGSIZE [WAIT]",
            "fail unless WAL FIRST..LAST is in completed_wals within WAIT s (used by backup)",
            positional: 3...4),
        CommandSpec(
            "xstandbyfloor", [.slave], "",
            "print the first WAL the standby in slave_data needs (used by an S3 backup's purge)"),
        CommandSpec("xversion", [.slave], "", "print the walmgr version (used by check)"),
        CommandSpec(
            "xspace", [.slave], "", "print free space and writability as JSON (used by check)"),
        CommandSpec(
            "xstreamuser", [.slave], "",
            "print the user of primary_conninfo (used by setup's pg_hba check)"),
        CommandSpec(
            "cleanup", [.slave], "[--yes]", "remove walmgr data, old data dirs, added key/.pgpass",
            flags: ["--yes"]),
    ]

    /// Looks up a command by name.
    public static func spec(_ name: String) -> CommandSpec? { all.first { $0.name == name } }

    /// The unknown-command error: the list first, the error last, so it is the line the master
    /// shows when it ran this command on the slave (it keeps the last lines of the slave's
    /// stderr), with this walmgr's version, the usual cause of an unknown slave helper.
    public static func unknown(_ name: String) -> String {
        "Commands:\n\(listing)\nwalmgr: unknown command \"\(name)\" (this is walmgr "
            + "\(Walmgr.version); the commands it knows are listed above)\n"
    }

    /// The command list for `--help` and for the unknown-command error, at most 80 columns:
    /// each summary starts in column 25 (on the next line after a long head) and wraps there.
    public static var listing: String {
        all.map { spec in
            let head = "  " + (spec.usage.isEmpty ? spec.name : "\(spec.name) \(spec.usage)")
            let roles = spec.roles.count == 2 ? "" : " (\(spec.roles.first!.rawValue))"
            let lines = wrap(spec.summary + roles, width: 80 - summaryColumn)
            let indent = String(repeating: " ", count: summaryColumn)
            var out: [String] = []
            if head.count < summaryColumn - 1 {
                out.append(
                    head.padding(toLength: summaryColumn, withPad: " ", startingAt: 0)
                        + lines[0])
            } else {
                out += [head, indent + lines[0]]
            }
            return (out + lines.dropFirst().map { indent + $0 }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// The column summaries start in.
    static let summaryColumn = 24

    /// `text` in lines of at most `width` characters, broken between words. Pure.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " \(word)"
        }
        return lines + [line]
    }
}
