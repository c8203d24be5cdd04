/// Resolves `%(name)s` references in one section's values, as configparser does. Pure: no I/O.
///
/// A reference looks up `name` (case-insensitive) in the section's entries (which already include
/// `[DEFAULT]`), then in the built-ins. `%%` is a literal `%`. References nest at most
/// ``maxDepth`` levels; a loop is reported as a cycle naming its keys.
public struct Interpolation: Sendable {
    /// How many levels of references may nest.
    public static let maxDepth = 10
    /// Names of the built-in variables, in the order error messages list them.
    public static let builtinNames = [
        "job_name", "service_name", "host_name", "config_dir", "config_file",
    ]

    /// The file name used in error messages.
    public let fileName: String
    /// The section's raw entries, `[DEFAULT]` included.
    public let entries: [String: INIEntry]
    /// Built-in values; entries with the same name take precedence. Used literally.
    public let builtins: [String: String]

    /// Creates a resolver over `entries`, falling back to `builtins`.
    public init(fileName: String, entries: [String: INIEntry], builtins: [String: String]) {
        self.fileName = fileName
        self.entries = entries
        self.builtins = builtins
    }

    /// The built-in variables for a config file at the absolute path `configFile`.
    public static func builtins(configFile: String, hostName: String) -> [String: String] {
        let slash = configFile.lastIndex(of: "/")
        let base = slash.map { String(configFile[configFile.index(after: $0)...]) } ?? configFile
        let dir = slash.map { String(configFile[..<$0]) } ?? "."
        var jobName = base
        if let dot = base.lastIndex(of: "."), dot != base.startIndex {
            jobName = String(base[..<dot])
        }
        return [
            "job_name": jobName,
            "service_name": "walmgr",
            "host_name": hostName,
            "config_dir": dir.isEmpty ? "/" : dir,
            "config_file": configFile,
        ]
    }

    /// The fully interpolated value of `key`; nil when neither an entry nor a built-in.
    /// - Throws: ``ConfigError`` for an undefined reference, a cycle, too deep nesting or a lone
    ///   `%`.
    public func value(of key: String) throws(ConfigError) -> String? {
        let key = key.lowercased()
        guard let entry = entries[key] else { return builtins[key] }
        return try expand(entry, key: key, chain: [key])
    }

    /// Every entry, interpolated.
    public func resolveAll() throws(ConfigError) -> [String: String] {
        var result: [String: String] = [:]
        for key in entries.keys.sorted() {
            result[key] = try value(of: key)
        }
        return result
    }

    /// The names referenced by `%(name)s` in a raw value (lowercased), ignoring syntax errors.
    public static func references(in value: String) -> [String] {
        var names: [String] = []
        var rest = value[...]
        while let percent = rest.firstIndex(of: "%") {
            rest = rest[rest.index(after: percent)...]
            if rest.first == "%" {
                rest = rest.dropFirst()
            } else if rest.first == "(", let close = rest.firstIndex(of: ")") {
                names.append(rest[rest.index(after: rest.startIndex)..<close].lowercased())
                rest = rest[rest.index(after: close)...]
            }
        }
        return names
    }

    /// Expands one raw entry; `chain` is the list of keys being expanded, outermost first.
    private func expand(
        _ entry: INIEntry, key: String, chain: [String]
    ) throws(ConfigError) -> String {
        var result = ""
        var rest = entry.value[...]
        while let percent = rest.firstIndex(of: "%") {
            result += rest[..<percent]
            rest = rest[rest.index(after: percent)...]
            if rest.first == "%" {
                result.append("%")
                rest = rest.dropFirst()
                continue
            }
            guard rest.first == "(", let close = rest.firstIndex(of: ")"),
                rest[rest.index(after: close)...].first == "s"
            else {
                throw .badPercent(file: fileName, line: entry.line, key: key)
            }
            let name = rest[rest.index(after: rest.startIndex)..<close].lowercased()
            rest = rest[rest.index(close, offsetBy: 2)...]
            result += try lookup(name, from: key, entry: entry, chain: chain)
        }
        return result + rest
    }

    /// The expanded value of the referenced `name`, guarding against loops and deep nesting.
    private func lookup(
        _ name: String, from key: String, entry: INIEntry, chain: [String]
    ) throws(ConfigError) -> String {
        guard let target = entries[name] else {
            guard let builtin = builtins[name] else {
                throw .undefinedReference(
                    file: fileName, line: entry.line, key: key, reference: name)
            }
            return builtin
        }
        if let start = chain.firstIndex(of: name) {
            let loop = Array(chain[start...]) + [name]
            let line = entries[loop[0]]?.line ?? entry.line
            throw .interpolationCycle(file: fileName, line: line, chain: loop)
        }
        guard chain.count < Self.maxDepth else {
            throw .interpolationTooDeep(
                file: fileName, line: entries[chain[0]]?.line ?? entry.line,
                chain: chain + [name])
        }
        return try expand(target, key: name, chain: chain + [name])
    }
}
