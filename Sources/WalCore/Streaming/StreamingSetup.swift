import Foundation

/// The streaming part of `setup` (master): the pg_hba check, and with `--hba` the line added
/// before the first rule, a backup copy kept, and the server reloaded.
enum StreamingSetup {
    /// Runs after archiving is configured. Without `--hba` it only reports; an unreadable rule
    /// set is a warning, not a failed setup.
    static func run(config: MasterConfig, context: CommandContext) async throws {
        let log = context.log
        let wantsEdit = context.has("--hba")
        guard let (probe, db) = try await probe(config: config, context: context) else { return }
        for broken in probe.brokenLines {
            log.warning("\(probe.hbaFile) \(broken) (this line is not in effect)")
        }
        guard let reason = try missingReason(probe, wantsEdit: wantsEdit, log: log) else { return }
        guard wantsEdit, !context.notReally else {
            log.warning(
                "pg_hba: \(describe(probe.client)) cannot stream yet: \(reason). Add this line to "
                    + "\(probe.hbaFile) before the other rules and reload (or run setup --hba):\n"
                    + probe.suggestedLine)
            return
        }
        try addLine(probe, db: db, log: log)
    }

    /// Connects to master_db and checks pg_hba for the standby's replication connection; nil
    /// when the check cannot run and setup goes on (no master_db, an unresolvable host or no
    /// superuser; each a warning, unless `--hba` asked for the edit).
    static func probe(config: MasterConfig, context: CommandContext) async throws
        -> (HBAProbe, PGConnection)?
    {
        let log = context.log
        let wantsEdit = context.has("--hba")
        guard let conninfo = config.masterDb, !conninfo.isEmpty else {
            if wantsEdit {
                _ = try config.need(config.masterDb, key: "master_db", for: "setup --hba")
            }
            log.warning("master_db is not set: cannot check pg_hba.conf for replication")
            return nil
        }
        let db = try PGConnection(conninfo: conninfo)
        let slaveUser = await standbyUser(config: config, context: context)
        do {
            let probe = try await HBAProbe.check(
                config: config, db: db, runner: context.runner, slaveUser: slaveUser)
            return probe.map { ($0, db) }
        } catch let error as UnresolvedHost where !wantsEdit {
            log.warning("\(error); skipping the pg_hba check (setup goes on)")
            return nil
        } catch let error as PGError where !wantsEdit {
            log.warning("cannot read pg_hba_file_rules (superuser needed): \(error)")
            return nil
        }
    }

    /// Why the standby cannot stream yet, or nil when there is nothing to add: a rule allows
    /// it (logged), or a rule rejects it (a warning, or with `--hba` an error: walmgr does not
    /// override a reject).
    static func missingReason(_ probe: HBAProbe, wantsEdit: Bool, log: Log) throws -> String? {
        let who = describe(probe.client)
        switch probe.verdict {
        case .allowed(let rule):
            log.info(
                "pg_hba: \(who) may connect for replication (\(probe.hbaFile):\(rule.lineNumber), "
                    + "\(rule.method))")
            return nil
        case .rejected(let rule):
            let message =
                "pg_hba: \(probe.hbaFile):\(rule.lineNumber) rejects replication from \(who). "
                + "Change or remove that line yourself; walmgr does not override a reject"
            if wantsEdit { throw WalmgrFailure(message) }
            log.warning(message)
            return nil
        case .undecided(_, let why):
            return why
        case .noMatch:
            return "no rule admits it (the keyword all does not cover replication)"
        }
    }

    /// Inserts the suggested line, keeps `<hba_file>.walmgr-<time>`, reloads and re-checks.
    static func addLine(_ probe: HBAProbe, db: PGConnection, log: Log) throws {
        let path = probe.hbaFile
        let original = try TextFile.read(path)
        guard let edited = HBAFile.inserting(probe.suggestedLine, into: original) else {
            log.info("\(path) already has \(probe.suggestedLine); reloading")
            try db.execute("SELECT pg_reload_conf()")
            return
        }
        var info = stat()
        let mode = stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o600
        let backup = "\(path).walmgr-\(TextFile.timestamp())"
        try Durable.replace(Array(original.utf8), at: backup, mode: mode)
        try Durable.replace(Array(edited.utf8), at: path, mode: mode)
        if geteuid() == 0 { _ = chown(path, info.st_uid, info.st_gid) }
        try db.execute("SELECT pg_reload_conf()")
        log.info(
            "added to \(path) (previous copy: \(backup)) and reloaded:\n\(probe.suggestedLine)")
        let broken = try HBAProbe.readRules(db).filter { $0.error != nil }
        for rule in broken {
            log.warning(
                "\(path) line \(rule.lineNumber): \(rule.error ?? "") — PostgreSQL keeps the old "
                    + "rules until this is fixed; the previous file is \(backup)")
        }
    }

    /// The user the standby streams as, asked from the slave (`xstreamuser`) when the master
    /// config names none (`replication_user`, or a user in its `primary_conninfo`); nil when
    /// the master config says, or the slave cannot tell.
    static func standbyUser(config: MasterConfig, context: CommandContext) async -> String? {
        let own = config.common.primaryConninfo.flatMap { Conninfo.value("user", in: $0) }
        guard config.replicationUser == nil, own == nil,
            let link = try? SlaveLink(config: config, invocation: context.invocation),
            let result = try? await link.run(
                "xstreamuser", runner: context.runner, timeout: .seconds(30))
        else { return nil }
        let user = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        if !user.isEmpty {
            context.log.debug("the standby streams as \(user) (its primary_conninfo)")
        }
        return user.isEmpty ? nil : user
    }

    /// `postgres from 10.0.0.2` or `postgres over the Unix socket`.
    static func describe(_ client: HBAClient) -> String {
        "user \(client.user) " + (client.address.map { "from \($0)" } ?? "over the Unix socket")
    }

    /// The setting that keeps WAL for standbys without a slot (`wal_keep_size`, MB): 13+ takes
    /// megabytes; 12 takes `wal_keep_segments`, so MB are divided by the segment size.
    static func walKeepSetting(config: MasterConfig) -> (String, String)? {
        guard let megabytes = config.walKeepSize else { return nil }
        let versionFile = (try? TextFile.read("\(config.masterData)/PG_VERSION")) ?? ""
        let version = ServerVersion(pgVersionFile: versionFile) ?? ServerVersion(num: 130000)
        guard version.walKeepSetting == "wal_keep_segments" else {
            return ("wal_keep_size", "'\(megabytes)MB'")
        }
        // The segment size is fixed at initdb; ask the server, else assume the 16 MB default.
        let segmentMB =
            config.masterDb.flatMap { try? PGConnection(conninfo: $0) }
            .flatMap {
                try? $0.scalar(
                    "SELECT setting::bigint / 1048576 FROM pg_settings WHERE name = 'wal_segment_size'"
                )
            }
            .flatMap { Int($0) } ?? 16
        return ("wal_keep_segments", "\(max(1, (megabytes + segmentMB - 1) / segmentMB))")
    }
}
