import Foundation

/// Where point-in-time recovery stops: `restore --target-time|--target-lsn|--target-xid|
/// --target-name|--target-immediate`, with `--target-inclusive|--target-exclusive`,
/// `--target-timeline` and `--target-action`. Parsing and rendering are pure.
public struct RecoveryTarget: Sendable, Equatable {
    /// The one kind of target PostgreSQL accepts at a time.
    public enum Kind: Sendable, Equatable {
        /// `recovery_target_time`: the parsed time.
        case time(TargetTime)
        /// `recovery_target_lsn`.
        case lsn(LSN)
        /// `recovery_target_xid` (decimal).
        case xid(UInt64)
        /// `recovery_target_name`: a restore point (`walmgr MASTER.ini restore-point NAME`).
        case name(String)
        /// `recovery_target = 'immediate'`: stop as soon as the backup is consistent.
        case immediate
    }

    /// What the server does at the target (`recovery_target_action`).
    public enum Action: String, Sendable, Equatable, CaseIterable {
        case pause, promote, shutdown
    }

    /// The target.
    public var kind: Kind
    /// `recovery_target_inclusive`, or nil for PostgreSQL's default (inclusive).
    public var inclusive: Bool?
    /// `recovery_target_timeline`: `current`, `latest` or a number; nil keeps walmgr's default.
    public var timeline: String?
    /// `recovery_target_action`; PostgreSQL's default, pause, stays the default.
    public var action: Action = .pause

    /// Creates a target.
    public init(
        kind: Kind, inclusive: Bool? = nil, timeline: String? = nil, action: Action = .pause
    ) {
        self.kind = kind
        self.inclusive = inclusive
        self.timeline = timeline
        self.action = action
    }

    /// The options `restore` takes a value for.
    public static let valueOptions = [
        "--target-time", "--target-lsn", "--target-xid", "--target-name", "--target-timeline",
        "--target-action",
    ]
    /// The flags `restore` takes for a target.
    public static let flags = ["--target-immediate", "--target-inclusive", "--target-exclusive"]

    /// The target the options and flags ask for, nil when none does; a bad value or a
    /// contradiction throws (exit 64) naming the option.
    public static func parse(options: [String: String], flags: Set<String>) throws(PITRError)
        -> RecoveryTarget?
    {
        var kinds: [(String, Kind)] = []
        if let text = options["--target-time"] {
            guard let time = TargetTime(text) else {
                throw .badOption("--target-time", text, TargetTime.expected)
            }
            kinds.append(("--target-time", .time(time)))
        }
        if let text = options["--target-lsn"] {
            guard let lsn = LSN(text) else {
                throw .badOption("--target-lsn", text, "an LSN such as 0/3000148")
            }
            kinds.append(("--target-lsn", .lsn(lsn)))
        }
        if let text = options["--target-xid"] {
            guard text.allSatisfy(\.isASCII), let xid = UInt64(text), xid >= 3 else {
                throw .badOption("--target-xid", text, "a transaction ID (a number of 3 or more)")
            }
            kinds.append(("--target-xid", .xid(xid)))
        }
        if let text = options["--target-name"] {
            kinds.append(
                ("--target-name", .name(try restorePointName(text, option: "--target-name"))))
        }
        if flags.contains("--target-immediate") { kinds.append(("--target-immediate", .immediate)) }
        let modifiers =
            ["--target-timeline", "--target-action"].filter { options[$0] != nil }
            + ["--target-inclusive", "--target-exclusive"].filter(flags.contains)
        guard let (_, kind) = kinds.first else {
            if let stray = modifiers.first { throw .modifierWithoutTarget(stray) }
            return nil
        }
        if kinds.count > 1 { throw .severalTargets(kinds.map(\.0)) }
        return RecoveryTarget(
            kind: kind, inclusive: try inclusive(flags, kind: kind),
            timeline: try timeline(options["--target-timeline"]),
            action: try action(options["--target-action"]))
    }

    static func inclusive(_ flags: Set<String>, kind: Kind) throws(PITRError) -> Bool? {
        let given = ["--target-inclusive", "--target-exclusive"].filter(flags.contains)
        if given.count > 1 { throw .severalTargets(given) }
        if kind == .immediate, let flag = given.first { throw .inclusiveWithImmediate(flag) }
        return given.first.map { $0 == "--target-inclusive" }
    }

    static func timeline(_ text: String?) throws(PITRError) -> String? {
        guard let text else { return nil }
        if text == "latest" || text == "current" { return text }
        guard text.allSatisfy(\.isASCII), let tli = UInt32(text), tli >= 1 else {
            throw .badOption("--target-timeline", text, "latest, current or a timeline number")
        }
        return String(tli)
    }

    static func action(_ text: String?) throws(PITRError) -> Action {
        guard let text else { return .pause }
        guard let action = Action(rawValue: text) else {
            throw .badOption("--target-action", text, "pause, promote or shutdown")
        }
        return action
    }

    /// A restore point name as PostgreSQL keeps it: 1 to 63 bytes, printable, no quotes
    /// needed since it is always passed as a parameter or quoted for postgresql.conf.
    public static func restorePointName(_ text: String, option: String) throws(PITRError)
        -> String
    {
        let bytes = text.utf8.count
        guard bytes >= 1, bytes <= 63,
            text.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value != 127 })
        else {
            throw .badOption(
                option, text, "a restore point name of 1 to 63 bytes without control characters")
        }
        return text
    }

    /// The `recovery_target*` settings in the order walmgr writes them; values quoted.
    public var settings: [RecoverySettings.Setting] {
        var out: [RecoverySettings.Setting] = []
        func add(_ name: String, _ value: String) {
            out.append(RecoverySettings.Setting(name: name, value: PostgresConf.quote(value)))
        }
        switch kind {
        case .time(let time): add("recovery_target_time", time.postgresText)
        case .lsn(let lsn): add("recovery_target_lsn", lsn.description)
        case .xid(let xid): add("recovery_target_xid", String(xid))
        case .name(let name): add("recovery_target_name", name)
        case .immediate: add("recovery_target", "immediate")
        }
        if let inclusive { add("recovery_target_inclusive", inclusive ? "on" : "off") }
        add("recovery_target_action", action.rawValue)
        return out
    }

    /// `time 2026-11-30 14:02:00+00`-style text for logs and errors.
    public var summary: String {
        switch kind {
        case .time(let time): "time \(time.postgresText)"
        case .lsn(let lsn): "LSN \(lsn)"
        case .xid(let xid): "transaction \(xid)"
        case .name(let name): "restore point \"\(name)\""
        case .immediate: "the end of the backup (immediate)"
        }
    }
}
