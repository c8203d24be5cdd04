extension CommonConfig {
    /// Returns `value`, or throws ``ConfigError/missingKey(file:key:command:example:)`` naming
    /// `key`, this config file and `command` when it is nil.
    public func need<T>(_ value: T?, key: String, for command: String) throws(ConfigError) -> T {
        guard let value else { throw missing(key, command) }
        return value
    }

    /// Returns `value`, treating nil and "" as missing.
    public func need(_ value: String?, key: String, for command: String) throws(ConfigError)
        -> String
    {
        guard let value, !value.isEmpty else { throw missing(key, command) }
        return value
    }

    /// The error for a key `command` needs but the config does not set.
    ///
    /// The four directories under `walmgr_data` are reported as `walmgr_data` when that is unset
    /// too: setting it is the usual fix.
    public func missing(_ key: String, _ command: String) -> ConfigError {
        let derived = ["completed_wals", "partial_wals", "full_backup", "config_backup"]
        let key = derived.contains(key) && walmgrData == nil ? "walmgr_data" : key
        return .missingKey(
            file: configFile, key: key, command: command,
            example: ConfigKeys.example(for: key))
    }
}

extension MasterConfig {
    /// Returns `value`, or throws a missing-key error naming `key` and `command`.
    public func need<T>(_ value: T?, key: String, for command: String) throws(ConfigError) -> T {
        try common.need(value, key: key, for: command)
    }

    /// Returns `value`, treating nil and "" as missing.
    public func need(_ value: String?, key: String, for command: String) throws(ConfigError)
        -> String
    {
        try common.need(value, key: key, for: command)
    }
}

extension SlaveConfig {
    /// Returns `value`, or throws a missing-key error naming `key` and `command`.
    public func need<T>(_ value: T?, key: String, for command: String) throws(ConfigError) -> T {
        try common.need(value, key: key, for: command)
    }

    /// Returns `value`, treating nil and "" as missing.
    public func need(_ value: String?, key: String, for command: String) throws(ConfigError)
        -> String
    {
        try common.need(value, key: key, for: command)
    }
}
