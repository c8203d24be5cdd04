/// Loads a walmgr INI file into a typed ``WalmgrConfig``: read, parse, override, interpolate.
public enum ConfigLoader {
    /// The section walmgr reads its keys from.
    public static let section = "walmgr"

    /// Reads the config at `path` and applies `overrides` (raw `--set KEY=VALUE` strings).
    ///
    /// The path is made absolute for `config_file`/`config_dir`; messages use `path` as given.
    /// - Throws: ``ConfigError`` for a bad `--set`, an unreadable file or a bad value.
    public static func load(path: String, overrides: [String]) throws(ConfigError) -> LoadedConfig {
        let sets = try parseOverrides(overrides)
        let absolute = ConfigFileAccess.absolute(path)
        let text = try ConfigFileAccess.read(path: absolute)
        return try load(
            text: text, fileName: path, configFile: absolute, overrides: sets,
            home: ConfigFileAccess.homeDirectory, hostName: ConfigFileAccess.hostName)
    }

    /// Builds the typed config from INI `text`. Pure: no I/O; the file-reading `load` wraps it.
    /// - Parameters:
    ///   - fileName: the name shown in messages.
    ///   - configFile: the absolute path, for the built-ins and ``CommonConfig/configFile``.
    ///   - overrides: parsed `--set` pairs, applied in order over the `[walmgr]` values.
    ///   - home: what a leading `~` in a path expands to.
    ///   - hostName: the `host_name` built-in.
    public static func load(
        text: String, fileName: String, configFile: String, overrides: [(String, String)],
        home: String, hostName: String
    ) throws(ConfigError) -> LoadedConfig {
        let ini = try INIFile.parse(text, fileName: fileName)
        guard var entries = ini.section(section) else {
            throw .missingSection(file: fileName, section: section)
        }
        for (key, value) in overrides {
            entries[key] = INIEntry(value: value, line: 0)
        }
        let interpolation = Interpolation(
            fileName: fileName, entries: entries,
            builtins: Interpolation.builtins(configFile: configFile, hostName: hostName))
        let reader = ConfigReader(interpolation: interpolation, home: home)
        let common = try CommonConfig(reader, configFile: configFile)
        let config: WalmgrConfig =
            reader.has("master_data")
            ? .master(try MasterConfig(reader, common: common))
            : .slave(try SlaveConfig(reader, common: common))
        var own = ini.entries(in: section) ?? [:]
        for (key, _) in overrides {
            own[key] = INIEntry(value: "", line: 0)
        }
        let warnings = unknownKeyWarnings(
            own, all: entries, role: config.role, fileName: fileName)
        return LoadedConfig(config: config, warnings: warnings)
    }

    /// Splits raw `--set KEY=VALUE` strings into lowercased keys and trimmed values.
    /// - Throws: ``ConfigError/badOverride(_:)`` (exit 64) for a string without `=` or a key.
    public static func parseOverrides(
        _ overrides: [String]
    ) throws(ConfigError) -> [(String, String)] {
        var result: [(String, String)] = []
        for raw in overrides {
            guard let eq = raw.firstIndex(of: "=") else { throw .badOverride(raw) }
            let key = raw[..<eq].configTrimmed().lowercased()
            guard !key.isEmpty, !key.contains(where: \.isWhitespace) else {
                throw .badOverride(raw)
            }
            result.append((key, raw[raw.index(after: eq)...].configTrimmed()))
        }
        return result
    }

    /// Warnings for keys in `[walmgr]` or `--set` that this role does not know.
    ///
    /// A key that another value refers to with `%(key)s` is a helper variable, not a typo, and
    /// `[DEFAULT]` keys are never reported.
    static func unknownKeyWarnings(
        _ own: [String: INIEntry], all: [String: INIEntry], role: Role, fileName: String
    ) -> [String] {
        let known = ConfigKeys.known(for: role).union(ConfigKeys.ignored)
        let referenced = Set(all.values.flatMap { Interpolation.references(in: $0.value) })
        let other: Role = role == .master ? .slave : .master
        let otherKeys = ConfigKeys.known(for: other)
        var found: [(line: Int, key: String, text: String)] = []
        for (key, entry) in own where !known.contains(key) && !referenced.contains(key) {
            let place = ConfigError.place(fileName, entry.line)
            let text =
                otherKeys.contains(key)
                ? "\(place): key \"\(key)\" is for \(other.rawValue) configs; ignored in a "
                    + "\(role.rawValue) config"
                : "\(place): unknown key \"\(key)\" ignored"
                    + (KeySuggestion.nearest(to: key, in: known).map { "; did you mean \($0)?" }
                        ?? "")
            found.append((entry.line, key, text))
        }
        return found.sorted { ($0.line, $0.key) < ($1.line, $1.key) }.map(\.text)
    }
}
