import Foundation

/// Per-command help: `walmgr help COMMAND` and `walmgr CONFIG.ini COMMAND --help` print the same
/// text (docs/walmgr.md has the long form).
public enum CommandHelp {
    /// The help text and exit status when `arguments` (without the program name) ask for help:
    /// `help`, `help COMMAND`, `help --man` (the manual page), or `CONFIG COMMAND ... --help|-h`.
    /// Nil otherwise.
    public static func intercept(_ arguments: [String]) -> (text: String, status: Int32)? {
        if arguments == ["help", "--man"] { return (ManPage.render(date: ManPage.today()), 0) }
        var words: [String] = []
        var wantsHelp = false
        var skipNext = false
        for argument in arguments {
            if skipNext {
                skipNext = false
            } else if argument == "--set" {
                skipNext = true
            } else if argument == "--help" || argument == "-h" {
                wantsHelp = !words.isEmpty
            } else if !argument.hasPrefix("-") {
                words.append(argument)
            }
        }
        if words.first == "help" {
            guard words.count > 1 else {
                return ("Commands:\n\(CommandCatalog.listing)\n\nwalmgr help COMMAND for one.\n", 0)
            }
            return text(for: words[1]).map { ($0, 0) }
                ?? (CommandCatalog.unknown(words[1]), 64)
        }
        guard wantsHelp, words.count >= 2 else { return nil }
        return text(for: words[1]).map { ($0, 0) }
    }

    /// The help for one command: usage, role, summary, details and exit codes.
    public static func text(for name: String) -> String? {
        guard let spec = CommandCatalog.spec(name) else { return nil }
        let roles = spec.roles.count == 2 ? "master and slave" : spec.roles.first!.rawValue
        var out = "usage: walmgr [-v|-q|-n] [--set KEY=VALUE]... CONFIG.ini \(name)"
        if !spec.usage.isEmpty { out += " \(spec.usage)" }
        out += "\nruns on: \(roles)\n\n\(spec.summary).\n"
        if let more = details[name] { out += "\n\(more)\n" }
        out +=
            "\nexit: "
            + (exitCodes[name]
                ?? "0 done; 1 failed (the message says why and how to fix it); 64 usage error")
        return out + "\n"
    }

    static let exitCodes: [String: String] = [
        "xarchive": "0 archived and durable (or already there, identical); 1 anything else "
            + "(PostgreSQL retries); never above 125",
        "xrestore": "0 file delivered; 1 not available (quietly) or failed; never above 125",
        "check": "0 every check passed; 1 at least one FAIL; 64 usage error",
        "status": "0 healthy; 1 unhealthy (see problems); 64 usage error",
        "verify": "0 everything intact; 1 at least one PROBLEM (or the check could not run); "
            + "64 usage error",
    ]

    static let details: [String: String] = [
        "setup": """
        master: sets archive_mode, archive_command (this walmgr + this ini), wal_level and
        archive_timeout/wal_keep_size when configured in master_config (a copy is kept), reloads or
        runs master_restart_cmd, removes the walmgr stop marker, runs setup on the slave.
        slave: creates walmgr_data, completed_wals, partial_wals, full_backup and config_backup.
        """,
        "stop": """
        Creates <master_data>/walmgr.stopped: xarchive then fails on purpose, so PostgreSQL keeps
        every segment in pg_wal (nothing is thrown away, unlike walmgr3's /bin/true). Stops
        syncdaemon. `setup` resumes shipping.
        """,
        "backup": """
        master: pg_backup_start, a copy of the data dir and tablespaces into the slave's
        full_backup.inprogress (in-process when full_backup is local, rsync over ssh for
        host:path), pg_backup_stop, backup_label and manifest, waits until the WAL it needs is
        archived, then rotates (data.master -> data.master.0 ...) and purges WAL older than the
        oldest kept backup. slave: the same from the running standby (slave_db), asking the
        master (master_db) to switch WAL.
        """,
        "listbackups": "Prints a table, or with --json an array (newest first) with name, label, "
            + "status, start/stop time, LSNs, WAL names, timeline, pg_version, size_bytes, and "
            + "the recoverable window: recoverable_from (the stop time), recoverable_to (when "
            + "the last contiguous archived segment was archived, its mtime), recoverable_gap.",
        "check": """
        Prints one line per check: OK or FAIL with the fix. Both roles: config, writable
        directories (path, owner:group, mode, user, exact chown/chmod), PostgreSQL programs.
        master: database connection, archive_mode, archive_command, wal_level,
        pending_restart, ssh to the slave with host key checking, the slave's walmgr version,
        free space there; --archive switches WAL and times its arrival in completed_wals.
        slave: standby data dir and recovery settings, a complete backup, contiguous WAL after it.
        """,
        "status": """
        master: pg_stat_archiver (last archived WAL and age, failures), .ready backlog, walmgr
        stop marker, syncdaemon, newest backup on the slave. slave: recovery state, replay and
        receive LSN, lag in bytes and seconds, streaming, newest WAL in completed_wals, backups,
        PAUSE/STOP, the recoverable window (a gap that cuts it is a problem) and, after restore
        --target-*, where recovery stopped (LSN, time, paused or promoted). --json prints {"role", "ok", "problems", ...details}. Thresholds:
        status_max_archive_age (seconds, 600) and status_max_ready (10).
        """,
        "restore": """
        Stops a running standby, keeps the old data dir as <slave_data>.N (backup_datadir),
        copies SET (default: the newest backup) into place (--move moves it instead), restores
        config files, writes standby.signal and recovery settings, starts the standby.
        Refuses a DST where a server runs, /, $HOME, or a directory above walmgr's own.

        Point-in-time recovery: one target, --target-time T (ISO 8601 with a zone),
        --target-lsn L, --target-xid X, --target-name N (a restore point) or
        --target-immediate; --target-inclusive|--target-exclusive; --target-timeline
        TLI|latest|current (default current); --target-action pause|promote|shutdown (default
        pause); --standby keeps standby.signal and primary_conninfo (default recovery.signal).
        Without SET the newest backup that ends before the target is taken (none: refused,
        the backups listed with their stop times). Before anything moves, completed_wals must
        hold every segment from the backup's start to the target along the target timeline's
        history (to the newest archived segment for a time, xid or name target); a gap exits 1
        naming the segment. status then shows where recovery stopped.
        """,
        "restore-point": """
        Runs pg_create_restore_point(NAME) on the master (master_db), the name passed as a
        query parameter (1 to 63 bytes, no control characters), then switches WAL so the point
        is archived at once. Prints the LSN. Recover to it with walmgr SLAVE.ini restore
        --target-name NAME.
        """,
        "verify": """
        Re-reads every file of SET (default: the newest complete backup; --all: every one)
        and compares its size and SHA-256 with walmgr_manifest.json; files missing or added
        are problems too, and backup_manifest (PostgreSQL's format, for pg_verifybackup) must
        vouch for walmgr_manifest.json. Reads the first page header of every segment in
        completed_wals, compressed ones too (magic of the backup's version, page address,
        timeline), and finds gaps: inside each timeline, and from each backup's start WAL to
        the newest segment. Prints one PROBLEM line per finding (file: expected, found) and
        exits 1; --json prints {"ok", "backups", "wal", "problems"}.
        """,
        "boot": "Checks that slave_db reaches slave_data's own server, waits until partial_wals "
            + "is unchanged for boot_sync_quiet s, promotes the standby (pg_ctl promote), waits "
            + "until it accepts writes, and prints the new timeline and LSN.",
        "pause": "Creates completed_wals/PAUSE and pauses replay on a running standby.",
        "continue": "Removes completed_wals/PAUSE and resumes replay.",
        "cleanup": "Removes walmgr_data, old <slave_data>.N dirs and the key/.pgpass entries "
            + "--init-slave added; only directories that carry walmgr's layout, never /, $HOME "
            + "or a directory above slave_data. Asks for confirmation unless --yes.",
        "sync": "Ships the bytes of the current WAL segment written since the last round to "
            + "partial_wals on the slave.",
        "syncdaemon": """
        Runs sync every loop_delay seconds; -d runs it in the background (needs pidfile; its
        directory is made 0700 if missing), -s stops it, -k kills it, -r makes it reload the
        config before the next round (it logs what changed and keeps the old config if the new
        one does not load). The flags may also come first: walmgr -d CONFIG.ini syncdaemon.
        Without pidfile the daemon locks the config file, so a second one is refused.
        """,
        "receive": """
        Streams WAL from receive_conninfo (default primary_conninfo) over a physical replication
        connection into partial_wals/NAME.partial and, per whole segment, completed_wals (same
        no-clobber rule as xreceive). Refuses a master whose system identifier differs from the
        backups' or the archive's; creates receive_slot when missing; resumes after its newest
        WAL; follows timeline switches; reconnects with back-off. receive_synchronous = on
        fsyncs before every reply, so a master listing it in synchronous_standby_names commits
        only once the WAL is on this host's disk (and waits while the receiver is down). -d runs
        it in the background (needs pidfile), -s stops it after the current write, -k kills it.
        """,
        "xarchive": "archive_command = 'walmgr INI xarchive %p %f'. Ships one file to "
            + "completed_wals: temp name, fsync, link (never over an existing file), fsync dir. "
            + "Validates NAME first; an identical file already there is success.",
        "xlock": "backup runs `xlock PID HOST` on the slave; a lock whose process is gone is "
            + "taken over. Without PID it is a manual lock: every backup is refused until "
            + "`walmgr SLAVE_INI xrelease`.",
        "xrestore": "restore_command = 'walmgr INI xrestore %f %p %r'. Copies NAME from "
            + "completed_wals (or partial_wals after boot) to PATH; waits while PAUSE exists.",
    ]
}
