import WalCore

/// Fixtures shared by the config tests.
enum ConfigFixture {
    /// The home directory used to expand `~` in fixtures.
    static let home = "/home/walmgr"
    /// The host name used for the `host_name` built-in in fixtures.
    static let hostName = "db1"
    /// The absolute path fixtures pretend to be loaded from.
    static let configFile = "/etc/walmgr/wal-master.ini"

    /// Loads `text` as if read from `fileName` under /etc/walmgr, with `--set` overrides.
    static func load(
        _ text: String, fileName: String = "wal-master.ini", overrides: [String] = []
    ) throws(ConfigError) -> LoadedConfig {
        try ConfigLoader.load(
            text: text, fileName: fileName, configFile: "/etc/walmgr/" + fileName,
            overrides: try ConfigLoader.parseOverrides(overrides), home: home,
            hostName: hostName)
    }

    /// Loads `text` and returns the master settings, failing the test when it is a slave config.
    static func master(
        _ text: String, overrides: [String] = []
    ) throws -> MasterConfig {
        guard let master = try load(text, overrides: overrides).config.master else {
            throw FixtureError.wrongRole
        }
        return master
    }

    /// Loads `text` and returns the slave settings, failing the test when it is a master config.
    static func slave(_ text: String, overrides: [String] = []) throws -> SlaveConfig {
        let loaded = try load(text, fileName: "wal-slave.ini", overrides: overrides)
        guard let slave = loaded.config.slave else { throw FixtureError.wrongRole }
        return slave
    }

    /// The error a fixture throws when the config has the other role.
    enum FixtureError: Error {
        case wrongRole
    }
}
