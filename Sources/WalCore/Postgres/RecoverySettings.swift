import Foundation

/// The settings that make a restored data directory a standby, rendered for its server version.
///
/// 12+: a `standby.signal` file plus settings merged into postgresql.auto.conf. ≤11:
/// `recovery.conf`. Rendering is pure; ``RecoverySettings/apply(to:)`` merges into the text of
/// an existing postgresql.auto.conf, replacing earlier values instead of duplicating them.
public struct RecoverySettings: Sendable, Equatable {
    /// What goes into the data directory.
    public enum Output: Sendable, Equatable {
        /// 12+: create `signalFile` and set `settings` in postgresql.auto.conf, in order.
        case autoConf(signalFile: String, settings: [Setting])
        /// ≤11: write this text as `recovery.conf`.
        case recoveryConf(String)
    }

    /// One `name = value` line; `value` is already quoted for postgresql.conf.
    public struct Setting: Sendable, Equatable {
        /// The parameter name.
        public let name: String
        /// The value as written in the file (quoted).
        public let value: String
    }

    /// The inputs that differ between installations.
    public struct Inputs: Sendable, Equatable {
        /// The walmgr binary PostgreSQL runs as restore_command.
        public var walmgr: String
        /// The slave ini xrestore loads.
        public var configFile: String
        /// `primary_conninfo`, or nil for an archive-only standby.
        public var primaryConninfo: String?
        /// `primary_slot_name` (`use_replication_slot`), or nil; only used with a conninfo.
        public var primarySlotName: String?
        /// A full archive_cleanup_command, or nil (the default: xpurgewals handles retention).
        public var archiveCleanupCommand: String?
        /// ≤11: the trigger file that ends recovery.
        public var triggerFile: String
        /// 12+: `recovery_target_timeline` (`current` pins the backup's timeline).
        public var targetTimeline: String
        /// A point-in-time target (`restore --target-*`), or nil to follow the archive.
        public var target: RecoveryTarget?
        /// With a target: stay a standby (`standby.signal`, primary_conninfo) instead of
        /// `recovery.signal`. Without a target the data dir is always a standby.
        public var standby = true

        /// Creates inputs; `targetTimeline` defaults to `current` (see docs/walmgr.md, Standby).
        public init(
            walmgr: String, configFile: String, primaryConninfo: String? = nil,
            archiveCleanupCommand: String? = nil, triggerFile: String,
            targetTimeline: String = "current", primarySlotName: String? = nil
        ) {
            self.walmgr = walmgr
            self.configFile = configFile
            self.primaryConninfo = primaryConninfo
            self.primarySlotName = primarySlotName
            self.archiveCleanupCommand = archiveCleanupCommand
            self.triggerFile = triggerFile
            self.targetTimeline = targetTimeline
        }
    }

    /// The rendered output.
    public let output: Output

    /// The names walmgr manages in postgresql.auto.conf; a restore removes stale ones too.
    public static let managedNames =
        [
            "restore_command", "archive_cleanup_command", "primary_conninfo",
            "recovery_target_timeline", "archive_mode", "primary_slot_name",
        ] + targetNames

    /// The target settings a restore removes unless it sets them: a target left over from
    /// an earlier point-in-time recovery would stop the next standby there.
    public static let targetNames = [
        "recovery_target", "recovery_target_time", "recovery_target_lsn", "recovery_target_xid",
        "recovery_target_name", "recovery_target_inclusive", "recovery_target_action",
    ]

    /// Renders the settings for a server version (pure).
    public static func render(for version: ServerVersion, _ inputs: Inputs) -> RecoverySettings {
        let restore = restoreCommand(walmgr: inputs.walmgr, configFile: inputs.configFile)
        if version.usesRecoveryConf {
            return RecoverySettings(output: .recoveryConf(recoveryConf(inputs, restore: restore)))
        }
        var settings = [Setting(name: "restore_command", value: PostgresConf.quote(restore))]
        if let cleanup = inputs.archiveCleanupCommand {
            settings.append(
                Setting(name: "archive_cleanup_command", value: PostgresConf.quote(cleanup)))
        }
        let standby = inputs.target == nil || inputs.standby
        if standby, let conninfo = inputs.primaryConninfo, !conninfo.isEmpty {
            settings.append(Setting(name: "primary_conninfo", value: PostgresConf.quote(conninfo)))
            if let slot = inputs.primarySlotName {
                settings.append(Setting(name: "primary_slot_name", value: PostgresConf.quote(slot)))
            }
        }
        settings.append(
            Setting(
                name: "recovery_target_timeline", value: PostgresConf.quote(inputs.targetTimeline)))
        settings += inputs.target?.settings ?? []
        // The standby must never run the master's archive_command into the master's archive.
        settings.append(Setting(name: "archive_mode", value: "'off'"))
        let signal = standby ? "standby.signal" : "recovery.signal"
        return RecoverySettings(output: .autoConf(signalFile: signal, settings: settings))
    }

    /// `'<walmgr> <ini> xrestore %f %p %r'` with each path shell-quoted and `%` doubled.
    public static func restoreCommand(walmgr: String, configFile: String) -> String {
        "\(shellArgument(walmgr)) \(shellArgument(configFile)) xrestore %f %p %r"
    }

    /// `pg_archivecleanup DIR %r`, for DBAs who opt in (see docs/walmgr.md, Standby).
    public static func archiveCleanupCommand(program: String, directory: String) -> String {
        "\(shellArgument(program)) \(shellArgument(directory)) %r"
    }

    /// A word for a command PostgreSQL runs through `sh -c` after expanding `%` escapes.
    static func shellArgument(_ word: String) -> String {
        ShellWords.quote(word).replacingOccurrences(of: "%", with: "%%")
    }

    private static func recoveryConf(_ inputs: Inputs, restore: String) -> String {
        let standby = inputs.target == nil || inputs.standby
        var lines = [
            "# Written by walmgr restore; walmgr replaces this file on the next restore.",
            "standby_mode = '\(standby ? "on" : "off")'",
            "restore_command = \(PostgresConf.quote(restore))",
            "trigger_file = \(PostgresConf.quote(inputs.triggerFile))",
        ]
        if let target = inputs.target {
            lines.append("recovery_target_timeline = \(PostgresConf.quote(inputs.targetTimeline))")
            lines += target.settings.map { "\($0.name) = \($0.value)" }
        }
        if standby, let conninfo = inputs.primaryConninfo, !conninfo.isEmpty {
            lines.append("primary_conninfo = \(PostgresConf.quote(conninfo))")
            if let slot = inputs.primarySlotName {
                lines.append("primary_slot_name = \(PostgresConf.quote(slot))")
            }
        }
        if let cleanup = inputs.archiveCleanupCommand {
            lines.append("archive_cleanup_command = \(PostgresConf.quote(cleanup))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Merges the 12+ settings into postgresql.auto.conf text: the last assignment of each name
    /// is replaced in place, earlier duplicates are dropped, missing ones are appended.
    /// Returns the text unchanged for ≤11 output.
    public func apply(to autoConf: String) -> String {
        guard case .autoConf(_, let settings) = output else { return autoConf }
        let names = Set(settings.map(\.name))
        let stale = Set(Self.targetNames).subtracting(names)
        let conf = PostgresConf.parse(autoConf)
        var lastIndex: [String: Int] = [:]
        for (index, line) in conf.lines.enumerated() {
            if let name = PostgresConf.assignment(line)?.name, names.contains(name) {
                lastIndex[name] = index
            }
        }
        let kept = conf.lines.enumerated().filter { index, line in
            guard let name = PostgresConf.assignment(line)?.name else { return true }
            if stale.contains(name) { return false }
            guard names.contains(name) else { return true }
            return lastIndex[name] == index
        }.map(\.element)
        let text = kept.joined(separator: "\n")
        if text.isEmpty {
            return settings.map { "\($0.name) = \($0.value)\n" }.joined()
        }
        var merged = PostgresConf.parse(text + "\n")
        for setting in settings { merged.set(setting.name, setting.value) }
        return merged.render()
    }
}
