import Foundation

/// A postgresql.conf as lines: read, change settings, render back with every other byte kept.
public struct PostgresConf: Sendable, Equatable {
    /// The lines, without their newline.
    public private(set) var lines: [String]
    /// Whether the text ended with a newline.
    let trailingNewline: Bool

    /// Parses the text (pure; nothing is validated beyond what editing needs).
    public static func parse(_ text: String) -> PostgresConf {
        var lines = text.components(separatedBy: "\n")
        let trailing = text.hasSuffix("\n")
        if trailing { lines.removeLast() }
        return PostgresConf(lines: lines, trailingNewline: trailing || text.isEmpty)
    }

    /// Renders the file text.
    public func render() -> String {
        lines.joined(separator: "\n") + (trailingNewline && !lines.isEmpty ? "\n" : "")
    }

    /// The active (uncommented) value of a setting: the last assignment wins, as in PostgreSQL.
    public func value(_ name: String) -> String? {
        lines.compactMap { Self.assignment($0) }.last { $0.name == name.lowercased() }?.value
    }

    /// `include`, `include_if_exists` and `include_dir` directives, in order.
    public var includes: [String] {
        lines.compactMap { line in
            guard let a = Self.assignment(line) else { return nil }
            return a.name.hasPrefix("include") ? a.value : nil
        }
    }

    /// Sets a setting: replaces the last active assignment in place (keeping its trailing
    /// comment), or appends a line. Returns true when the text changed.
    @discardableResult
    public mutating func set(_ name: String, _ rawValue: String) -> Bool {
        let key = name.lowercased()
        let rendered = "\(name) = \(rawValue)"
        guard let index = lines.lastIndex(where: { Self.assignment($0)?.name == key }) else {
            lines.append(rendered)
            return true
        }
        let old = lines[index]
        if Self.assignment(old)?.rawValue == rawValue { return false }
        let comment = Self.trailingComment(old).map { "\t\t\($0)" } ?? ""
        lines[index] = rendered + comment
        return true
    }

    /// Quotes a string value for postgresql.conf (single quotes, `'` doubled).
    public static func quote(_ value: String) -> String {
        "'"
            + value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// One parsed `name = value` line.
    struct Assignment: Equatable {
        let name: String
        /// The value as written (quotes kept).
        let rawValue: String
        /// The value with quotes removed and escapes resolved.
        let value: String
    }

    /// Parses an active assignment line; nil for comments, blanks and junk.
    static func assignment(_ line: String) -> Assignment? {
        var chars = Substring(line).drop { $0 == " " || $0 == "\t" }
        guard let first = chars.first, first.isLetter || first == "_" else { return nil }
        let name = chars.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        chars = chars.dropFirst(name.count).drop { $0 == " " || $0 == "\t" }
        if chars.first == "=" { chars = chars.dropFirst().drop { $0 == " " || $0 == "\t" } }
        var raw = ""
        var value = ""
        if chars.first == "'" {
            raw.append("'")
            var rest = chars.dropFirst()
            while let c = rest.first {
                rest = rest.dropFirst()
                raw.append(c)
                if c == "\\", let next = rest.first {
                    raw.append(next)
                    value.append(next)
                    rest = rest.dropFirst()
                } else if c == "'" {
                    if rest.first == "'" {
                        raw.append("'")
                        value.append("'")
                        rest = rest.dropFirst()
                    } else {
                        break
                    }
                } else {
                    value.append(c)
                }
            }
        } else {
            raw = String(chars.prefix { $0 != "#" && $0 != " " && $0 != "\t" })
            value = raw
        }
        return Assignment(name: name.lowercased(), rawValue: raw, value: value)
    }

    /// The `# comment` after the value on an assignment line, if any.
    static func trailingComment(_ line: String) -> String? {
        guard let a = assignment(line), let eq = line.firstIndex(of: "="),
            let valueRange = line[eq...].range(of: a.rawValue)
        else { return nil }
        let after = line[valueRange.upperBound...]
        guard let hash = after.firstIndex(of: "#") else { return nil }
        return String(after[hash...])
    }
}
