import Foundation

/// One row of `pg_hba_file_rules` (PostgreSQL 10+), as the server parsed the file.
public struct HBARule: Sendable, Equatable {
    /// The line in the file (`line_number`).
    public var lineNumber: Int
    /// `local`, `host`, `hostssl`, `hostnossl`, `hostgssenc` or `hostnogssenc`.
    public var type: String
    /// The database column (`all`, `replication`, names, `+group`…).
    public var databases: [String]
    /// The user column (`all`, names, `+group`, `/regex`).
    public var users: [String]
    /// `all`, `samehost`, `samenet`, an IP address or a host name; nil for `local`.
    public var address: String?
    /// The netmask of an IP address rule.
    public var netmask: String?
    /// The authentication method (`trust`, `scram-sha-256`, `reject`, …).
    public var method: String
    /// The server's complaint about the line, if any (such a line is not in effect).
    public var error: String?

    /// Creates a rule.
    public init(
        lineNumber: Int, type: String, databases: [String], users: [String],
        address: String? = nil, netmask: String? = nil, method: String, error: String? = nil
    ) {
        self.lineNumber = lineNumber
        self.type = type
        self.databases = databases
        self.users = users
        self.address = address
        self.netmask = netmask
        self.method = method
        self.error = error
    }
}

/// Who wants to connect: a replication connection from `address` (nil: a Unix socket) as `user`.
public struct HBAClient: Sendable, Equatable {
    /// The client's IP address as the master sees it, or nil for a Unix-socket connection.
    public var address: String?
    /// The role the standby connects as.
    public var user: String

    /// Creates a client.
    public init(address: String?, user: String) {
        self.address = address
        self.user = user
    }
}

/// What the first rule that could apply says about a replication connection.
public enum HBAVerdict: Sendable, Equatable {
    /// The rule lets the connection in (it may still ask for a password).
    case allowed(HBARule)
    /// The rule is `reject`.
    case rejected(HBARule)
    /// No rule matches: PostgreSQL refuses the connection.
    case noMatch
    /// A rule may match but walmgr cannot tell (host name, regex, samenet); the reason says why.
    case undecided(HBARule, reason: String)
}

/// Pure first-match evaluation of pg_hba rules, as PostgreSQL does for a new connection.
public enum HBAMatcher {
    /// A three-valued match: yes, no, or cannot tell (with why).
    enum Match: Equatable {
        case yes, no
        case unknown(String)
    }

    /// The verdict for a physical replication connection.
    /// - Parameter isMember: whether a role belongs to a group (`+group`); nil answers unknown.
    public static func verdict(
        _ rules: [HBARule], client: HBAClient,
        isMember: (String, String) -> Bool? = { _, _ in nil }
    ) -> HBAVerdict {
        for rule in rules where rule.error == nil {
            guard rule.databases.contains("replication") else { continue }
            let parts = [
                typeMatch(rule, client), userMatch(rule, client.user, isMember),
                addressMatch(rule, client.address),
            ]
            if parts.contains(.no) { continue }
            if let reason = parts.compactMap({ if case .unknown(let r) = $0 { r } else { nil } })
                .first
            {
                return .undecided(rule, reason: reason)
            }
            return rule.method == "reject" ? .rejected(rule) : .allowed(rule)
        }
        return .noMatch
    }

    /// The method of the first ordinary (non-replication) rule that admits this client, to
    /// reuse for the replication line: the standby then authenticates as other clients from
    /// its host do. nil when there is none.
    public static func ordinaryMethod(_ rules: [HBARule], client: HBAClient) -> String? {
        for rule in rules where rule.error == nil && !rule.databases.contains("replication") {
            let parts = [
                typeMatch(rule, client), userMatch(rule, client.user, { _, _ in nil }),
                addressMatch(rule, client.address),
            ]
            guard parts.allSatisfy({ $0 == .yes }) else { continue }
            return rule.method == "reject" ? nil : rule.method
        }
        return nil
    }

    static func typeMatch(_ rule: HBARule, _ client: HBAClient) -> Match {
        guard client.address != nil else { return rule.type == "local" ? .yes : .no }
        // A standby's default sslmode is prefer: hostssl and hostnossl may both apply. GSS
        // encryption needs Kerberos, which walmgr does not assume.
        return ["host", "hostssl", "hostnossl", "hostnogssenc"].contains(rule.type) ? .yes : .no
    }

    static func userMatch(
        _ rule: HBARule, _ user: String, _ isMember: (String, String) -> Bool?
    ) -> Match {
        var result = Match.no
        for entry in rule.users {
            if entry == "all" || entry == user { return .yes }
            if entry.hasPrefix("+") {
                switch isMember(user, String(entry.dropFirst())) {
                case true?: return .yes
                case false?: continue
                case nil: result = .unknown("pg_hba line \(rule.lineNumber) names group \(entry)")
                }
            } else if entry.hasPrefix("/") {
                result = .unknown("pg_hba line \(rule.lineNumber) has the user pattern \(entry)")
            }
        }
        return result
    }

    static func addressMatch(_ rule: HBARule, _ client: String?) -> Match {
        guard let client, rule.type != "local" else { return .yes }
        guard let address = rule.address else { return .no }
        switch address {
        case "all": return .yes
        case "samehost", "samenet":
            if IPAddress.isLoopback(client) { return .yes }
            return .unknown(
                "pg_hba line \(rule.lineNumber) uses \(address): walmgr cannot tell whether "
                    + "\(client) is on this host's network")
        default:
            guard let network = IPAddress.bytes(address) else {
                return .unknown(
                    "pg_hba line \(rule.lineNumber) names the host \(address): walmgr cannot "
                        + "tell whether it resolves to \(client)")
            }
            guard let ip = IPAddress.bytes(client), ip.count == network.count else { return .no }
            let mask =
                rule.netmask.flatMap(IPAddress.bytes) ?? [UInt8](repeating: 0xFF, count: ip.count)
            guard mask.count == ip.count else { return .no }
            return (0..<ip.count).allSatisfy { ip[$0] & mask[$0] == network[$0] & mask[$0] }
                ? .yes : .no
        }
    }
}

/// IPv4/IPv6 address parsing through inet_pton.
public enum IPAddress {
    /// The 4 or 16 bytes of an IP address literal, or nil when it is not one.
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// True for 127.0.0.0/8 and ::1.
    public static func isLoopback(_ text: String) -> Bool {
        guard let b = bytes(text) else { return false }
        return b.count == 4 ? b[0] == 127 : b == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// The address with its host prefix length: `10.0.0.2/32`, `::1/128`.
    public static func hostCIDR(_ text: String) -> String {
        "\(text)/\((bytes(text)?.count ?? 4) * 8)"
    }
}
