/// The ssh hosts a config names, checked when it is loaded: a host from a config must never
/// reach ssh or rsync as an option (`slave = -oProxyCommand=…` would run a command).
extension ConfigReader {
    /// `slave`: `[user@]host` (see ``Location/isValidHost(_:)``), or walmgr3's `host:path`
    /// whose host part is one; nil when empty. The value is returned as written.
    func sshHost(_ key: String) throws(ConfigError) -> String? {
        guard let value = try string(key) else { return nil }
        if Location.isValidHost(value) { return value }
        let host = Location.splitRemote(value)?.host ?? value
        guard Location.isValidHost(host) else {
            throw .badHost(file: fileName, line: line(key), key: key, host: host)
        }
        return value
    }

    /// A path that may be `host:path` (walmgr_data and the dirs under it); the host, if any,
    /// must be a valid host.
    func location(_ key: String) throws(ConfigError) -> String? {
        guard let value = try path(key) else { return nil }
        if let host = Location(value).host, !Location.isValidHost(host) {
            throw .badHost(file: fileName, line: line(key), key: key, host: host)
        }
        return value
    }
}
