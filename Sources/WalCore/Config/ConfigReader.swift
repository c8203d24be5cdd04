/// Typed access to the interpolated `[walmgr]` values; every error names the key and its line.
///
/// An empty value is treated like an absent key, so `archive_command =` means "not set".
struct ConfigReader: Sendable {
    /// Words accepted as true, lowercase.
    static let trueWords: Set<String> = ["1", "yes", "true", "on"]
    /// Words accepted as false, lowercase.
    static let falseWords: Set<String> = ["0", "no", "false", "off"]

    let interpolation: Interpolation
    let home: String

    var fileName: String { interpolation.fileName }

    /// Whether the key is present at all, even with an empty value.
    func has(_ key: String) -> Bool {
        interpolation.entries[key] != nil
    }

    /// The line of the key (0 for `--set` or a built-in).
    func line(_ key: String) -> Int {
        interpolation.entries[key]?.line ?? 0
    }

    /// The interpolated value; nil when absent or empty.
    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = try interpolation.value(of: key), !value.isEmpty else { return nil }
        return value
    }

    /// A path value with a leading `~` or `~/` expanded to the home directory.
    func path(_ key: String) throws(ConfigError) -> String? {
        try string(key).map(expandTilde)
    }

    /// `~` and `~/x` become `$HOME` and `$HOME/x`; `host:~/x` and `~user` stay as they are.
    func expandTilde(_ value: String) -> String {
        if value == "~" { return home }
        if value.hasPrefix("~/") { return home + value.dropFirst() }
        return value
    }

    /// A boolean from 1/yes/true/on or 0/no/false/off, case-insensitive.
    func bool(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        guard let value = try string(key) else { return fallback }
        let word = value.lowercased()
        if Self.trueWords.contains(word) { return true }
        if Self.falseWords.contains(word) { return false }
        throw .badBool(file: fileName, line: line(key), key: key, value: value)
    }

    /// A whole number from `minimum` to `maximum`.
    func int(_ key: String, minimum: Int = 0, maximum: Int = .max) throws(ConfigError) -> Int? {
        guard let value = try string(key) else { return nil }
        guard let number = Int(value), number >= minimum, number <= maximum else {
            let range =
                maximum == .max ? "of at least \(minimum)" : "from \(minimum) to \(maximum)"
            throw .badNumber(
                file: fileName, line: line(key), key: key, value: value,
                expected: "a whole number \(range)")
        }
        return number
    }

    /// Any whole number, negative included (for `compress_level`).
    func signedInt(_ key: String) throws(ConfigError) -> Int? {
        guard let value = try string(key) else { return nil }
        guard let number = Int(value) else {
            throw .badNumber(
                file: fileName, line: line(key), key: key, value: value,
                expected: "a whole number")
        }
        return number
    }

    /// A number greater than zero, fractions allowed (for `loop_delay`).
    func positiveDouble(_ key: String) throws(ConfigError) -> Double? {
        guard let value = try string(key) else { return nil }
        guard let number = Double(value), number.isFinite, number > 0 else {
            throw .badNumber(
                file: fileName, line: line(key), key: key, value: value,
                expected: "a number of seconds greater than 0")
        }
        return number
    }

    /// A value split into words like a shell would, without running one; nil when empty.
    func words(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = try string(key) else { return nil }
        do {
            let words = try ShellWords.split(value)
            return words.isEmpty ? nil : words
        } catch {
            throw .badShellWords(file: fileName, line: line(key), key: key, error: error)
        }
    }

    /// One of the raw values of `T`, case-insensitive.
    func choice<T: RawRepresentable & CaseIterable>(
        _ key: String, default fallback: T
    ) throws(ConfigError) -> T where T.RawValue == String {
        guard let value = try string(key) else { return fallback }
        guard let result = T(rawValue: value.lowercased()) else {
            throw .badChoice(
                file: fileName, line: line(key), key: key, value: value,
                allowed: T.allCases.map(\.rawValue))
        }
        return result
    }

    /// `slave`: `[user@]host` (see ``Location/isValidHost(_:)``), or walmgr3's `host:path`
    /// whose host part is one; nil when empty. The value is returned as written. Checked at load
    /// because a host must never reach ssh or rsync as an option (`slave = -oProxyCommand=…`
    /// ran a command).
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
