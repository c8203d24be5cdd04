import Foundation

/// A JSON value for `status --json`: details vary by role and state, so a small tree is simpler
/// than one Codable struct per combination.
public indirect enum JSONValue: Encodable, Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .object(let fields):
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in fields {
                try container.encode(value, forKey: Key(stringValue: key))
            }
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let s): try container.encode(s)
            case .int(let i): try container.encode(i)
            case .double(let d): try container.encode(d)
            case .bool(let b): try container.encode(b)
            default: try container.encodeNil()
            }
        }
    }

    /// A string, or null when nil.
    static func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    /// An integer, or null when nil.
    static func number<T: BinaryInteger>(_ i: T?) -> JSONValue {
        i.map { .int(Int64($0)) } ?? .null
    }

    /// Plain text for the human-readable status: `key: value`, nested objects indented.
    func lines(indent: String = "") -> [String] {
        guard case .object(let fields) = self else { return [indent + scalarText] }
        return fields.keys.sorted().flatMap { key -> [String] in
            let value = fields[key]!
            switch value {
            case .object: return ["\(indent)\(key):"] + value.lines(indent: indent + "  ")
            case .array(let items) where items.contains(where: \.isObject):
                return ["\(indent)\(key):"]
                    + items.flatMap { ["\(indent)  -"] + $0.lines(indent: indent + "    ") }
            default: return ["\(indent)\(key): \(value.scalarText)"]
            }
        }
    }

    var isObject: Bool { if case .object = self { true } else { false } }

    var scalarText: String {
        switch self {
        case .string(let s): s
        case .int(let i): "\(i)"
        case .double(let d): String(format: "%.1f", d)
        case .bool(let b): b ? "yes" : "no"
        case .null: "-"
        case .array(let items): items.map(\.scalarText).joined(separator: ", ")
        case .object: "{…}"
        }
    }
}

/// What `status` found: details by section, and the problems that make it unhealthy.
final class StatusReport: @unchecked Sendable {
    // Filled by the one task running the command; a class so helpers can add to it.
    let role: Role
    private(set) var problems: [String] = []
    private(set) var sections: [String: JSONValue] = [:]

    init(role: Role) { self.role = role }

    func problem(_ text: String) { problems.append(text) }

    func set(_ section: String, _ value: JSONValue) { sections[section] = value }

    var ok: Bool { problems.isEmpty }

    /// The object DESIGN.md specifies: `role`, `ok`, `problems`, plus the sections.
    var json: JSONValue {
        var all = sections
        all["role"] = .string(role.rawValue)
        all["ok"] = .bool(ok)
        all["problems"] = .array(problems.map(JSONValue.string))
        all["checked_at"] = .string(BackupManifest.isoTime(Date()))
        return .object(all)
    }

    /// Pretty, key-sorted JSON with a trailing newline.
    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(json), as: UTF8.self) + "\n"
    }

    /// The human-readable form: a verdict line, the problems, then the details.
    func text() -> String {
        var out = [ok ? "\(role.rawValue): OK" : "\(role.rawValue): UNHEALTHY"]
        out += problems.map { "  problem: \($0)" }
        out += JSONValue.object(sections).lines()
        return out.joined(separator: "\n") + "\n"
    }
}

/// Seconds since an ISO 8601 time, for ages in status.
enum Age {
    static func seconds(sinceISO text: String?, now: Date = Date()) -> Int64? {
        guard let text, let date = ISO8601DateFormatter().date(from: text) else { return nil }
        return Int64(now.timeIntervalSince(date).rounded())
    }

    static func seconds(since date: Date?, now: Date = Date()) -> Int64? {
        date.map { Int64(now.timeIntervalSince($0).rounded()) }
    }
}
