import Foundation

/// `synch-standby NAMES` (master): set `synchronous_standby_names` with ALTER SYSTEM and reload,
/// but only when the named standbys are connected; otherwise every commit would wait forever.
enum SynchStandby {
    /// A walsender as `pg_stat_replication` shows it.
    struct Sender: Equatable {
        let name: String
        let state: String
        let syncState: String
    }

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let log = context.log
        let text = context.arguments[0].trimmingCharacters(in: .whitespacesAndNewlines)
        let wanted = try SyncStandbyNames.parse(text)
        let conninfo = try config.need(config.masterDb, key: "master_db", for: "synch-standby")
        let db = try PGConnection(conninfo: conninfo)
        let senders = try connected(db)
        let current = try db.scalar("SHOW synchronous_standby_names") ?? ""
        if let wanted { try requireConnected(wanted, senders: senders, current: current) }
        if current == text {
            log.info("synchronous_standby_names is already '\(text)'")
        } else if context.notReally {
            log.info("would set synchronous_standby_names = '\(text)' (now '\(current)')")
            return 0
        } else {
            try db.execute("ALTER SYSTEM SET synchronous_standby_names = \(sqlLiteral(text))")
            try db.execute("SELECT pg_reload_conf()")
            try await waitForSetting(db, text)
            log.info(
                "set synchronous_standby_names = '\(text)' in postgresql.auto.conf (was "
                    + "'\(current)') and reloaded")
        }
        try await report(db, wanted: wanted, log: log)
        return 0
    }

    /// Walsenders of standbys (not base backups), by application_name.
    static func connected(_ db: PGConnection) throws -> [Sender] {
        let r = try db.query(
            """
            SELECT application_name, state, sync_state FROM pg_stat_replication
            WHERE state IN ('startup', 'catchup', 'streaming') ORDER BY application_name
            """)
        return (0..<r.count).map {
            Sender(
                name: r[$0, "application_name"] ?? "", state: r[$0, "state"] ?? "",
                syncState: r[$0, "sync_state"] ?? "")
        }
    }

    /// Refuses a value whose named standbys are not all connected, or that needs more
    /// synchronous standbys than are connected and listed.
    static func requireConnected(_ wanted: SyncStandbyNames, senders: [Sender], current: String)
        throws
    {
        let missing = wanted.explicitNames.filter { name in
            !senders.contains { SyncStandbyNames.matches(name, applicationName: $0.name) }
        }
        let matching = senders.filter { sender in
            wanted.names.contains { SyncStandbyNames.matches($0, applicationName: sender.name) }
        }
        guard !missing.isEmpty || matching.count < wanted.count else { return }
        let list =
            senders.isEmpty
            ? "no standby is connected"
            : "connected: " + senders.map { "\($0.name) (\($0.state))" }.joined(separator: ", ")
        let problem =
            missing.isEmpty
            ? "it needs \(wanted.count) synchronous standby(s) but only \(matching.count) "
                + "connected standby(s) match"
            : "not connected: \(missing.joined(separator: ", "))"
        throw WalmgrFailure(
            "synch-standby refused: \(problem); \(list). Commits would wait for a standby "
                + "that is not there. synchronous_standby_names stays '\(current)'. Connect the "
                + "standby (its application_name, from primary_conninfo or cluster_name) first")
    }

    /// A SQL string literal (standard_conforming_strings: only `'` needs doubling).
    static func sqlLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// Waits until this session sees the new value (the reload is asynchronous).
    static func waitForSetting(_ db: PGConnection, _ text: String) async throws {
        for _ in 0..<50 {
            if try db.scalar("SHOW synchronous_standby_names") == text { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WalmgrFailure(
            "synchronous_standby_names was written to postgresql.auto.conf, but the server "
                + "still reports the old value after 5 s: check the server log for a reload error")
    }

    /// Prints each walsender's sync_state once the walsenders picked up the new value.
    static func report(_ db: PGConnection, wanted: SyncStandbyNames?, log: Log) async throws {
        var senders = try connected(db)
        for _ in 0..<30 {
            let settled = senders.allSatisfy { sender in
                let listed =
                    wanted?.names.contains {
                        SyncStandbyNames.matches($0, applicationName: sender.name)
                    } ?? false
                return listed == (sender.syncState != "async")
            }
            if settled { break }
            try await Task.sleep(for: .milliseconds(100))
            senders = try connected(db)
        }
        for sender in senders {
            print("\(sender.name): \(sender.state), sync_state \(sender.syncState)")
        }
        if wanted == nil { log.info("synchronous replication is off; commits do not wait") }
    }
}
