import Foundation

/// The standby's own replication connection, made from the slave with `primary_conninfo` and
/// `replication=true`: what its WAL receiver meets (network, pg_hba, password, role).
/// `check` and `status` on the slave use it to name why streaming fails.
public enum ReplicationProbe {
    /// What the connection attempt found.
    public enum Outcome: Sendable, Equatable {
        /// The master accepted a replication connection.
        case connected
        /// No server answered (refused, timeout, no route, unknown host).
        case unreachable(String)
        /// The server answered but the password (or its absence) was refused.
        case authFailed(String)
        /// pg_hba.conf has no line for a replication connection from this host and user.
        case noHBAEntry(String)
        /// The role may log in but lacks the REPLICATION attribute.
        case notReplicationRole(String)
        /// Anything else libpq reported.
        case other(String)
    }

    /// The user the standby streams as: `user` of its primary_conninfo, else libpq's default,
    /// the account the standby (and walmgr) runs as.
    public static func user(primaryConninfo: String) -> String {
        Conninfo.value("user", in: primaryConninfo) ?? UserAccount.currentName
    }

    /// Seconds a probe waits for the master (libpq `connect_timeout`) unless the conninfo says.
    static let connectTimeout = 5

    /// Connects as the standby would and closes again.
    public static func probe(primaryConninfo: String) -> Outcome {
        do {
            let db = try PGConnection(conninfo: conninfo(primaryConninfo))
            db.close()
            return .connected
        } catch {
            guard case .connectFailed(_, let host, let port, let message) = error else {
                return .other("\(error)")
            }
            return classify(message, at: "\(host):\(port)")
        }
    }

    /// `primary_conninfo` for a physical replication connection with a bounded wait. The
    /// database is `replication`, as the WAL receiver sets it: .pgpass lines match on it.
    static func conninfo(_ primary: String) -> String {
        var extra = ["dbname": "replication", "replication": "true"]
        if Conninfo.value("connect_timeout", in: primary) == nil {
            extra["connect_timeout"] = String(connectTimeout)
        }
        let pairs = extra.sorted { $0.key < $1.key }
        if Conninfo.isURI(primary) {
            let query = pairs.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            return primary + (primary.contains("?") ? "&" : "?") + query
        }
        return ([primary] + pairs.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }

    /// Sorts libpq's message into a cause (pure; the message is already scrubbed).
    static func classify(_ message: String, at server: String) -> Outcome {
        let text = message.lowercased()
        let detail = "\(server): \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
        if text.contains("no pg_hba.conf entry") { return .noHBAEntry(detail) }
        if text.contains("must have replication") || text.contains("replication role")
            || text.contains("permission denied to start wal sender")
        {
            return .notReplicationRole(detail)
        }
        let auth = [
            "password authentication failed", "authentication failed", "no password supplied",
            "does not exist",
        ]
        if auth.contains(where: text.contains) { return .authFailed(detail) }
        let network = [
            "connection refused", "timeout expired", "could not translate host name",
            "no route to host", "network is unreachable", "could not connect",
            "connection timed out",
        ]
        if network.contains(where: text.contains) { return .unreachable(detail) }
        return .other(detail)
    }
}

extension ReplicationProbe.Outcome {
    /// One line for check and status: the cause, then what to do on which host.
    public func explained(user: String, configFile: String) -> String? {
        switch self {
        case .connected:
            return nil
        case .unreachable(let detail):
            return "the master is unreachable for streaming (\(detail)). Check that it runs and "
                + "listens on that address (listen_addresses, port) and that the network and any "
                + "firewall let this host through"
        case .authFailed(let detail):
            return "authentication failed for the standby's user \(user) (\(detail)). Put its "
                + "password in ~/.pgpass of the user the standby runs as (walmgr --init-slave "
                + "--add-password FILE), or set it on the master: ALTER ROLE \(user) PASSWORD …"
        case .noHBAEntry(let detail):
            return "the master's pg_hba.conf has no line for a replication connection from this "
                + "host as \(user) (\(detail)). On the master run walmgr MASTER.ini setup --hba, "
                + "or add a `host replication \(user) ADDRESS/32 scram-sha-256` line and reload"
        case .notReplicationRole(let detail):
            return "\(user) may not stream (\(detail)). On the master: ALTER ROLE \(user) "
                + "REPLICATION"
        case .other(let detail):
            return "the standby's replication connection failed (\(detail)); primary_conninfo "
                + "is in \(configFile)"
        }
    }

    /// A short name for `status --json`.
    public var cause: String {
        switch self {
        case .connected: "ok"
        case .unreachable: "unreachable"
        case .authFailed: "authentication failed"
        case .noHBAEntry: "no pg_hba entry"
        case .notReplicationRole: "not a replication role"
        case .other: "connection failed"
        }
    }
}
