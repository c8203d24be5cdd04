/// One raw value from an INI file, with the line it was set on.
public struct INIEntry: Sendable, Equatable {
    /// The raw value, before `%(name)s` interpolation; continuation lines are joined with `\n`.
    public let value: String
    /// The 1-based line of the key; 0 for a value from a `--set` override.
    public let line: Int

    /// Creates an entry.
    public init(value: String, line: Int) {
        self.value = value
        self.line = line
    }
}

/// A parsed INI file with Python configparser semantics, as walmgr3 read it. Pure: no I/O.
///
/// - `[name]` starts a section; `[DEFAULT]` values are visible in every section.
/// - `key = value` or `key: value`; keys are case-insensitive and stored lowercased.
/// - Lines starting with `#` or `;` are comments. An inline comment needs whitespace before `;`
///   (`value ; note`); a `#` inside a value is kept.
/// - An indented line continues the previous value (joined with a newline).
/// - `""` as a whole value means the empty string.
public struct INIFile: Sendable {
    /// The name of the section whose values every other section inherits.
    public static let defaultSection = "DEFAULT"

    /// The file name used in error messages.
    public let fileName: String
    /// Section names in file order, without `DEFAULT`.
    public let sectionNames: [String]
    /// The `[DEFAULT]` section's own entries.
    public let defaults: [String: INIEntry]
    private let sections: [String: [String: INIEntry]]

    /// Parses `text`; `fileName` only labels error messages.
    /// - Throws: ``ConfigError/malformedLine(file:line:text:)`` or
    ///   ``ConfigError/keyOutsideSection(file:line:text:)``.
    public static func parse(_ text: String, fileName: String) throws(ConfigError) -> INIFile {
        var parser = Parser(fileName: fileName)
        var number = 0
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for line in lines {
            number += 1
            try parser.consume(line: String(line), number: number)
        }
        var sections = parser.sections
        let defaults = sections.removeValue(forKey: defaultSection) ?? [:]
        return INIFile(
            fileName: fileName,
            sectionNames: parser.order.filter { $0 != defaultSection },
            defaults: defaults,
            sections: sections
        )
    }

    /// The entries of section `name` merged over `[DEFAULT]`; nil when the section is absent.
    public func section(_ name: String) -> [String: INIEntry]? {
        guard let own = sections[name] else { return nil }
        return defaults.merging(own) { _, sectionValue in sectionValue }
    }

    /// Only the entries written in section `name` itself, without `[DEFAULT]`.
    public func entries(in name: String) -> [String: INIEntry]? {
        name == Self.defaultSection ? defaults : sections[name]
    }

    /// Line-by-line state of the parser.
    private struct Parser {
        let fileName: String
        var sections: [String: [String: INIEntry]] = [:]
        var order: [String] = []
        var current: String?
        var lastKey: String?

        init(fileName: String) {
            self.fileName = fileName
        }

        mutating func consume(line: String, number: Int) throws(ConfigError) {
            let trimmed = line.configTrimmed()
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") {
                return
            }
            if line.first?.isWhitespace == true {
                guard let section = current, let key = lastKey,
                    let entry = sections[section]?[key]
                else {
                    throw .malformedLine(file: fileName, line: number, text: trimmed)
                }
                let value = entry.value + "\n" + INIFile.stripInlineComment(trimmed)
                sections[section]?[key] = INIEntry(value: value, line: entry.line)
                return
            }
            if trimmed.hasPrefix("[") {
                try header(trimmed, number: number)
                return
            }
            guard let (key, value) = INIFile.keyValue(trimmed) else {
                throw .malformedLine(file: fileName, line: number, text: trimmed)
            }
            guard let section = current else {
                throw .keyOutsideSection(file: fileName, line: number, text: trimmed)
            }
            sections[section, default: [:]][key] = INIEntry(value: value, line: number)
            lastKey = key
        }

        private mutating func header(_ text: String, number: Int) throws(ConfigError) {
            guard let close = text.firstIndex(of: "]") else {
                throw .malformedLine(file: fileName, line: number, text: text)
            }
            let name = text[text.index(after: text.startIndex)..<close].configTrimmed()
            let rest = text[text.index(after: close)...].configTrimmed()
            let restIsComment = rest.isEmpty || rest.hasPrefix("#") || rest.hasPrefix(";")
            guard !name.isEmpty, restIsComment else {
                throw .malformedLine(file: fileName, line: number, text: text)
            }
            if sections[name] == nil {
                sections[name] = [:]
                order.append(name)
            }
            current = name
            lastKey = nil
        }
    }

    /// Splits `key = value` / `key: value` at the first `=` or `:`; nil when it is not one.
    static func keyValue(_ line: String) -> (key: String, value: String)? {
        guard let sep = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { return nil }
        let key = line[..<sep].configTrimmed().lowercased()
        guard !key.isEmpty, !key.contains(where: \.isWhitespace) else { return nil }
        var value = stripInlineComment(line[line.index(after: sep)...].configTrimmed())
        if value == "\"\"" { value = "" }
        return (key, value)
    }

    /// Cuts a value at the first `;` that follows whitespace, as configparser does.
    static func stripInlineComment(_ value: String) -> String {
        var previous: Character = "x"
        for index in value.indices {
            if value[index] == ";" && previous.isWhitespace {
                return value[..<index].configTrimmed()
            }
            previous = value[index]
        }
        return value
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    func configTrimmed() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
