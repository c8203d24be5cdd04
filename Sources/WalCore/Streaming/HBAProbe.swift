import Foundation

/// Whether the master's pg_hba lets the standby connect for replication, from the rules the
/// server parsed (`pg_hba_file_rules`, superuser only). `setup` and `check` call
/// ``HBAProbe/check(config:db:)``.
public struct HBAProbe: Sendable {
    /// The client the master expects: the standby's address (nil: a Unix socket) and role.
    public let client: HBAClient
    /// What the rules say.
    public let verdict: HBAVerdict
    /// The pg_hba.conf in effect (`SHOW hba_file`).
    public let hbaFile: String
    /// The line that would let the standby in.
    public let suggestedLine: String
    /// Lines the server could not parse (they are not in effect): `line N: error`.
    public let brokenLines: [String]

    /// True when the standby can connect (authentication aside).
    public var allowed: Bool { if case .allowed = verdict { true } else { false } }

    /// Checks the master's pg_hba for the standby this master config describes; nil when no
    /// standby is set up to stream (no remote `slave` and no `primary_conninfo`).
    /// - Throws: ``PGError`` when the rules cannot be read (for example, not a superuser).
    /// - Parameter slaveUser: the user in the slave's own primary_conninfo (`xstreamuser`),
    ///   used when the master config names none.
    /// - Throws: ``UnresolvedHost`` when the standby's host name does not resolve.
    public static func check(
        config: MasterConfig, db: PGConnection, runner: any ProcessRunning,
        slaveUser: String? = nil
    ) async throws -> HBAProbe? {
        guard let client = try await expectedClient(config, runner: runner, slaveUser: slaveUser)
        else { return nil }
        let hbaFile = try db.scalar("SHOW hba_file") ?? "pg_hba.conf"
        let rules = try readRules(db)
        let verdict = HBAMatcher.verdict(
            rules, client: client,
            isMember: { user, group in
                (try? db.scalar("SELECT pg_has_role($1, $2, 'MEMBER')", [user, group]))
                    .flatMap { $0.map { $0 == "t" } }
            })
        let method = HBAMatcher.ordinaryMethod(rules, client: client) ?? "scram-sha-256"
        return HBAProbe(
            client: client, verdict: verdict, hbaFile: hbaFile,
            suggestedLine: HBAFile.replicationLine(client: client, method: method),
            brokenLines: rules.compactMap { rule in
                rule.error.map { "line \(rule.lineNumber): \($0)" }
            })
    }

    /// The rows of pg_hba_file_rules, in order.
    static func readRules(_ db: PGConnection) throws -> [HBARule] {
        let r = try db.query(
            """
            SELECT line_number, type, array_to_string(database, E'\\x1f') AS db,
                   array_to_string(user_name, E'\\x1f') AS users, address, netmask,
                   auth_method, error
            FROM pg_hba_file_rules ORDER BY \(db.serverVersionNum >= 160000 ? "rule_number, " : "")
                   line_number
            """)
        func list(_ value: String?) -> [String] {
            (value ?? "").split(separator: "\u{1f}").map(String.init)
        }
        return (0..<r.count).map { row in
            HBARule(
                lineNumber: r.int(row: row, column: "line_number") ?? 0,
                type: r[row, "type"] ?? "", databases: list(r[row, "db"]),
                users: list(r[row, "users"]), address: r[row, "address"],
                netmask: r[row, "netmask"], method: r[row, "auth_method"] ?? "",
                error: r[row, "error"])
        }
    }

    /// The standby as the master sees it. User: `replication_user`, else `user` of
    /// `primary_conninfo`, else the slave's own (`slaveUser`), else `postgres`. Address: the `slave` host (resolved when a name);
    /// for a local slave, the host of `primary_conninfo` (a socket when it is a directory).
    static func expectedClient(
        _ config: MasterConfig, runner: any ProcessRunning, slaveUser: String? = nil
    ) async throws -> HBAClient? {
        let conninfo = config.common.primaryConninfo.flatMap { $0.isEmpty ? nil : $0 }
        let user =
            config.replicationUser ?? conninfo.flatMap { Conninfo.value("user", in: $0) }
            ?? slaveUser ?? "postgres"
        if let slave = config.slaveDirectoryHost {
            return HBAClient(
                address: try await HostResolve.address(
                    hostPart(slave), key: "slave", config: config, runner: runner),
                user: user)
        }
        guard let conninfo else { return nil }
        let host =
            Conninfo.value("hostaddr", in: conninfo) ?? Conninfo.value("host", in: conninfo)
            ?? ""
        if host.isEmpty || host.hasPrefix("/") || host.hasPrefix("@") {
            return HBAClient(address: nil, user: user)
        }
        let address = try await HostResolve.address(
            host, key: "primary_conninfo", config: config, runner: runner)
        return HBAClient(address: address, user: user)
    }

    /// `user@host` or `[v6]` → the bare host.
    static func hostPart(_ slave: String) -> String {
        var host = Substring(slave)
        if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return String(host)
    }
}
