import Foundation

/// `syncdaemon -r` (SIGHUP): the running daemon reads its config again before the next round,
/// logs what changed and keeps the old config when the new one does not load.
final class ConfigReload {
    /// The config the daemon runs with.
    private(set) var config: MasterConfig
    private let invocation: Invocation
    private let log: Log
    /// Keys only read at start; a change is logged, and applies when the daemon restarts.
    static let restartOnly: Set<String> = ["pidfile", "logfile"]

    init(config: MasterConfig, invocation: Invocation, log: Log) {
        self.config = config
        self.invocation = invocation
        self.log = log
    }

    /// Loads the config file again. Returns the new config when it loaded and differs; on
    /// failure logs why and returns nil, so the daemon goes on with the old one.
    func reload() -> MasterConfig? {
        let path = invocation.configPath
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: path, overrides: invocation.overrides)
        } catch {
            log.error("reloading \(path) failed, still running with the old config: \(error)")
            return nil
        }
        guard let new = loaded.config.master else {
            log.error(
                "reloading \(path) failed, still running with the old config: it is no longer "
                    + "a master config (master_data is missing)")
            return nil
        }
        for warning in loaded.warnings { log.warning(warning) }
        let changes = Self.changes(from: config, to: new)
        guard !changes.isEmpty else {
            log.info("reloaded \(path): nothing changed")
            return nil
        }
        log.info("reloaded \(path): " + changes.map(\.line).joined(separator: "; "))
        for change in changes where Self.restartOnly.contains(change.key) {
            log.warning("\(change.key) changes when syncdaemon restarts (`syncdaemon -s`, then -d)")
        }
        config = new
        return new
    }

    /// One changed setting.
    struct Change: Equatable {
        let key: String
        let line: String
    }

    /// The settings that differ, as `key: old -> new`; connection strings, which may hold a
    /// password, only as `key changed`. Pure.
    static func changes(from old: MasterConfig, to new: MasterConfig) -> [Change] {
        let before = settings(old)
        let after = settings(new)
        return after.keys.sorted().compactMap { key in
            let was = before[key] ?? "unset"
            let now = after[key] ?? "unset"
            guard was != now else { return nil }
            let secret = key.hasSuffix("_db") || key.contains("conninfo")
            return Change(key: key, line: secret ? "\(key) changed" : "\(key): \(was) -> \(now)")
        }
    }

    /// Every stored property of the config and its common part, by snake_case name.
    static func settings(_ config: MasterConfig) -> [String: String] {
        var result: [String: String] = [:]
        let children =
            Array(Mirror(reflecting: config).children)
            + Array(Mirror(reflecting: config.common).children)
        for child in children {
            guard let label = child.label, label != "common" else { continue }
            result[snakeCase(label)] = describe(child.value)
        }
        return result
    }

    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { out, char in
            out += char.isUppercase ? "_" + char.lowercased() : String(char)
        }
    }

    /// A value without `Optional(...)` around it.
    static func describe(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return "\(value)" }
        return mirror.children.first.map { describe($0.value) } ?? "unset"
    }
}
