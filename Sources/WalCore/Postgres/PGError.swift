import Foundation

/// A failure talking to PostgreSQL. Messages name the server, never a password.
public enum PGError: WalmgrError {
    /// The connection could not be made. `conninfo` is stored masked.
    case connectFailed(conninfo: String, host: String, port: String, message: String)
    /// The server refused a statement.
    case queryFailed(sql: String, sqlstate: String?, message: String, host: String, port: String)
    /// A statement ran but returned something walmgr did not expect.
    case unexpectedResult(sql: String, detail: String)
    /// The connection broke (or was closed) before or during a statement.
    case connectionLost(host: String, port: String, message: String)

    /// A connect failure with the password masked in the conninfo and scrubbed from the message.
    public static func connect(conninfo: String, host: String?, port: String?, message: String)
        -> PGError
    {
        let where_ = Self.serverAddress(conninfo: conninfo, host: host, port: port)
        return .connectFailed(
            conninfo: Conninfo.masked(conninfo), host: where_.host, port: where_.port,
            message: scrub(message, conninfo: conninfo))
    }

    /// The host and port a conninfo points at, with libpq's defaults filled in.
    public static func serverAddress(conninfo: String, host: String?, port: String?)
        -> (host: String, port: String)
    {
        let env = ProcessInfo.processInfo.environment
        let h =
            nonEmpty(host) ?? Conninfo.value("host", in: conninfo)
            ?? Conninfo.value("hostaddr", in: conninfo) ?? env["PGHOST"]
            ?? "/var/run/postgresql"
        let p =
            nonEmpty(port) ?? Conninfo.value("port", in: conninfo) ?? env["PGPORT"]
            ?? "5432"
        return (h, p)
    }

    /// Removes the conninfo's password (and anything that looks like one) from a message.
    public static func scrub(_ message: String, conninfo: String) -> String {
        var text = Conninfo.masked(message.trimmingTrailingNewlines())
        if let password = Conninfo.value("password", in: conninfo), !password.isEmpty {
            text = text.replacingOccurrences(of: password, with: Conninfo.mask)
        }
        return text
    }

    public var description: String {
        switch self {
        case .connectFailed(let conninfo, let host, let port, let message):
            return """
                could not connect to PostgreSQL at host \(host) port \(port) \
                (conninfo: "\(Conninfo.masked(conninfo))"): \(Self.indent(message))
                Check that the server is running and listening on that \(Self.kind(host)) \
                (port, listen_addresses, unix_socket_directories), and that pg_hba.conf \
                allows this user and database from this host.
                """
        case .queryFailed(let sql, let sqlstate, let message, let host, let port):
            let code = sqlstate.map { " [SQLSTATE \($0)]" } ?? ""
            return """
                query failed on PostgreSQL at host \(host) port \(port)\(code): \
                \(Self.indent(Conninfo.masked(message)))
                    query: \(Self.short(sql))\(Self.hint(sqlstate))
                """
        case .unexpectedResult(let sql, let detail):
            return "unexpected result from PostgreSQL: \(detail)\n    query: \(Self.short(sql))"
        case .connectionLost(let host, let port, let message):
            let reason = message.isEmpty ? "" : ": \(Self.indent(Conninfo.masked(message)))"
            return """
                lost the connection to PostgreSQL at host \(host) port \(port)\(reason)
                Check whether the server was stopped or restarted (see its log).
                """
        }
    }

    private static func kind(_ host: String) -> String {
        host.hasPrefix("/") || host.hasPrefix("@") ? "socket directory and port" : "address"
    }

    private static func hint(_ sqlstate: String?) -> String {
        switch sqlstate {
        case "42501": "\nThe connecting role lacks a privilege: connect as a superuser."
        case "42883":
            "\nA function is missing: check that walmgr supports this server version."
        case "55000": "\nThe server is not in the right state (archiving, recovery, backup)."
        case "25006": "\nThe server is read-only: is it a standby still in recovery?"
        case "57P01", "57P02", "57P03": "\nThe server is shutting down or starting up."
        default: ""
        }
    }

    private static func short(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: \.isNewline).joined(separator: " ")
        return oneLine.count > 200 ? oneLine.prefix(200) + "…" : oneLine
    }

    private static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    ")
    }

    private static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var s = self
        while s.last?.isNewline == true { s.removeLast() }
        return s
    }

}
