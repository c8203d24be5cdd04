import Foundation

/// `setup` (master): turn archiving on in postgresql.conf, reload or restart, set up the slave.
enum MasterSetup {
    /// Settings that only take effect after a restart.
    static let restartSettings: Set<String> = ["archive_mode", "wal_level", "max_wal_senders"]

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let log = context.log
        let confPath = config.masterConfig
        let original = try TextFile.read(confPath)
        var conf = PostgresConf.parse(original)
        let wanted = desiredSettings(config: config, conf: conf)
        var changed: [String] = []
        for (name, value) in wanted where conf.set(name, value) { changed.append(name) }

        if changed.isEmpty {
            log.info("\(confPath) already has the archiving settings; nothing changed")
        } else if context.notReally {
            log.info("would set \(changed.joined(separator: ", ")) in \(confPath)")
        } else {
            let backup = "\(confPath).walmgr-\(TextFile.timestamp())"
            try Durable.replace(Array(original.utf8), at: backup, mode: 0o600)
            try Durable.replace(Array(conf.render().utf8), at: confPath, mode: 0o600)
            log.info(
                "set \(changed.joined(separator: ", ")) in \(confPath) (previous copy: \(backup))")
        }
        let reset = resetStandbyArchiveMode(config: config, context: context)
        reportOverrides(config: config, names: wanted.map(\.0), log: log)
        if (!changed.isEmpty || reset) && !context.notReally {
            try await applyChanges(
                config: config, needsRestart: reset || !restartSettings.isDisjoint(with: changed),
                context: context)
        }
        try await StreamingSetup.run(config: config, context: context)
        if !context.notReally {
            MasterStop.resume(config, log: log)
            let link = try SlaveLink(config: config, invocation: context.invocation)
            try await link.run("setup", runner: context.runner)
            log.info("slave directories are ready on \(link.hostDescription)")
            try await archiveHistories(config: config, context: context)
        }
        return 0
    }

    /// Removes the `archive_mode = 'off'` that `restore` writes into a standby's
    /// postgresql.auto.conf, once that standby is a master (promoted by `boot`): it overrides
    /// postgresql.conf, so archiving would stay off whatever setup writes there. Only restore's:
    /// the same file also holds restore's `restore_command` running `walmgr … xrestore` (a DBA's
    /// own `archive_mode = off` is only reported). Runs `ALTER SYSTEM RESET archive_mode`
    /// through master_db, on the server of master_data only (data directory and system
    /// identifier) and only when it is not in recovery; otherwise the override warning says
    /// what to run. True when it reset it.
    static func resetStandbyArchiveMode(config: MasterConfig, context: CommandContext) -> Bool {
        let auto = "\(config.masterData)/postgresql.auto.conf"
        guard let text = try? TextFile.read(auto), case let conf = PostgresConf.parse(text),
            conf.value("archive_mode")?.lowercased() == "off",
            conf.value("restore_command")?.contains(" xrestore %f %p") == true,
            let conninfo = config.masterDb
        else { return false }
        let what = "archive_mode = off in \(auto), which restore writes for a standby"
        guard !context.notReally else {
            context.log.info("would remove \(what) (ALTER SYSTEM RESET archive_mode)")
            return false
        }
        do {
            let db = try PGConnection(conninfo: conninfo)
            let reached = try ReachedServer(db)
            guard reached.isServer(of: config.masterData) else {
                context.log.warning(
                    "master_db reaches \(reached.description), not the one of master_data "
                        + "\(config.masterData): \(what) is left; fix master_db")
                return false
            }
            guard try db.scalar("SELECT pg_is_in_recovery()") == "f" else { return false }
            try db.execute("ALTER SYSTEM RESET archive_mode")
        } catch {
            context.log.warning("could not remove \(what): \(error)")
            return false
        }
        context.log.info(
            "removed \(what) (ALTER SYSTEM RESET archive_mode): this server is a master now")
        return true
    }

    /// Ships the timeline history files in pg_wal that the archive lacks. PostgreSQL archives
    /// a history file only if archiving is on when it writes it, and a standby promoted by
    /// `boot` runs with archive_mode off, so without this its timeline's history would never
    /// reach the archive, and recovery from it could not follow the timeline switch.
    static func archiveHistories(config: MasterConfig, context: CommandContext) async throws {
        let dir = "\(config.masterData)/pg_wal"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for name in names.sorted() {
            guard let wal = WALName(name), wal.kind == .history else { continue }
            let (fd, size) = try XArchive.openSource("\(dir)/\(name)")
            defer { close(fd) }
            let result = try await XArchive.store(
                wal, fd: fd, size: size, config: config, context: context)
            if result == .stored {
                context.log.info(
                    "archived \(name) to \(config.common.completedWals): the history of a "
                        + "timeline PostgreSQL began while archiving was off")
            }
        }
    }

    /// The settings setup wants, in order; values already right are left as they are.
    static func desiredSettings(config: MasterConfig, conf: PostgresConf) -> [(String, String)] {
        var wanted: [(String, String)] = [
            ("archive_mode", "on"),
            ("archive_command", PostgresConf.quote(archiveCommand(config: config))),
        ]
        let level = conf.value("wal_level")?.lowercased()
        if let level, !["replica", "logical"].contains(level) {
            wanted.append(("wal_level", "replica"))
        }
        if let timeout = config.archiveTimeout { wanted.append(("archive_timeout", timeout)) }
        if let senders = conf.value("max_wal_senders").flatMap({ Int($0) }), senders < 3 {
            wanted.append(("max_wal_senders", "3"))
        }
        if let keep = StreamingSetup.walKeepSetting(config: config) { wanted.append(keep) }
        if conf.value("archive_mode") == "always" { wanted.removeFirst() }
        return wanted
    }

    /// The archive_command line: this binary and this ini, shell-quoted, `%` doubled.
    static func archiveCommand(config: MasterConfig) -> String {
        let escape = { (s: String) in ShellWords.quote(s).replacingOccurrences(of: "%", with: "%%")
        }
        return "\(escape(CommandContext.executablePath)) \(escape(config.common.configFile)) "
            + "xarchive %p %f"
    }

    /// Warns when postgresql.auto.conf (ALTER SYSTEM) or an include sets one of our settings later.
    static func reportOverrides(config: MasterConfig, names: [String], log: Log) {
        let confDir = (config.masterConfig as NSString).deletingLastPathComponent
        let conf = (try? TextFile.read(config.masterConfig)).map(PostgresConf.parse)
        var files = (conf?.includes ?? []).map { $0.hasPrefix("/") ? $0 : "\(confDir)/\($0)" }
        files.append("\(config.masterData)/postgresql.auto.conf")
        for file in files {
            guard let text = try? TextFile.read(file) else { continue }
            let other = PostgresConf.parse(text)
            for name in names {
                guard let value = other.value(name) else { continue }
                let fix =
                    file.hasSuffix("postgresql.auto.conf")
                    ? "run ALTER SYSTEM RESET \(name); SELECT pg_reload_conf();"
                    : "remove the line from \(file)"
                log.warning(
                    "\(name) = \(value) in \(file) overrides \(config.masterConfig); \(fix)")
            }
        }
    }

    /// Restarts with master_restart_cmd when needed and set; otherwise reloads.
    static func applyChanges(config: MasterConfig, needsRestart: Bool, context: CommandContext)
        async throws
    {
        let log = context.log
        if needsRestart, let restart = config.masterRestartCmd, !restart.isEmpty {
            let result = try await context.runner.run(Command(argv: restart))
            guard result.succeeded else {
                throw WalmgrFailure(
                    "master_restart_cmd \(Command(argv: restart)) failed (\(result.statusText)): "
                        + "\(result.stderrTail). postgresql.conf is already changed; restart "
                        + "PostgreSQL by hand")
            }
            log.info("restarted PostgreSQL with master_restart_cmd")
            return
        }
        guard let conninfo = config.masterDb else {
            log.warning("master_db is not set: reload PostgreSQL yourself (pg_ctl reload)")
            return
        }
        do {
            let db = try PGConnection(conninfo: conninfo)
            let before = try db.scalar("SELECT pg_conf_load_time()::text")
            try db.execute("SELECT pg_reload_conf()")
            guard try await reloaded(db, since: before) else {
                log.warning(
                    "asked PostgreSQL to reload, but it had not re-read its configuration after "
                        + "\(reloadWait) s: look for a configuration error in the server log, "
                        + "then run `walmgr \(config.common.configFile) check`")
                return
            }
            let pending = try db.query("SELECT name FROM pg_settings WHERE pending_restart")
                .rows.compactMap { $0.first ?? nil }
            if pending.isEmpty {
                log.info("reloaded PostgreSQL; all settings are active")
            } else {
                log.warning(
                    "reloaded PostgreSQL, but \(pending.joined(separator: ", ")) "
                        + "\(pending.count == 1 ? "needs" : "need") a restart: restart "
                        + "PostgreSQL (or set master_restart_cmd) before archiving starts")
            }
        } catch {
            log.warning("could not reload through master_db: \(error). Reload PostgreSQL yourself")
        }
    }

    /// How long setup waits for the server to re-read its configuration.
    static let reloadWait = 10

    /// Waits until this session has re-read the configuration (pg_conf_load_time moved past
    /// `before`), so pending_restart is the server's answer and not the state before the
    /// reload; false after ``reloadWait`` seconds.
    static func reloaded(_ db: PGConnection, since before: String?) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(reloadWait)
        while true {
            if try db.scalar("SELECT pg_conf_load_time()::text") != before { return true }
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Reading text files with errors that say whose file it is.
enum TextFile {
    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError("read", path, errno: access(path, F_OK) == 0 ? EACCES : ENOENT)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// `YYYYmmdd-HHMMSS` in UTC, for backup copies.
    static func timestamp(_ date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: date)
    }
}
