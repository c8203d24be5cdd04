import Foundation

extension StandbyServer {
    /// Connects to the standby with `slave_db`, filling in host and port from its config files
    /// when slave_db does not name them.
    func connect() throws -> PGConnection {
        var lastError: (any Error)?
        for conninfo in conninfos() {
            do { return try PGConnection(conninfo: conninfo) } catch { lastError = error }
        }
        throw StandbyError.unreachable(
            dataDir: dataDir, detail: lastError.map { "\($0)" } ?? "no conninfo to try")
    }

    /// The conninfos to try, in order.
    func conninfos() -> [String] {
        let base = config.slaveDb
        if Conninfo.isURI(base) { return [base] }
        let settings = serverSettings()
        var conninfo = base
        if Conninfo.value("port", in: base) == nil, let port = settings.value("port") {
            conninfo += " port=\(Conninfo.quoteValue(port))"
        }
        guard Conninfo.value("host", in: base) == nil, Conninfo.value("hostaddr", in: base) == nil
        else { return [conninfo] }
        let sockets = (settings.value("unix_socket_directories") ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("/") }
        let hosts = sockets.isEmpty ? ["/var/run/postgresql", "/tmp"] : [sockets[0]]
        return hosts.map { "\(conninfo) host=\(Conninfo.quoteValue($0))" }
    }

    /// postgresql.conf (slave_config_dir, then the data dir) and postgresql.auto.conf, in the
    /// order PostgreSQL reads them, so the last value wins.
    private func serverSettings() -> PostgresConf {
        var paths = ["\(config.slaveConfigDir)/postgresql.conf"]
        if config.slaveConfigDir != dataDir { paths.append("\(dataDir)/postgresql.conf") }
        paths.append("\(dataDir)/postgresql.auto.conf")
        let text = paths.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            .joined(separator: "\n")
        return PostgresConf.parse(text)
    }
}
