/// A parsed `synchronous_standby_names` value, following PostgreSQL's own grammar
/// (src/backend/replication/syncrep_gram.y): `FIRST n (list)`, `ANY n (list)`, `n (list)`, or a
/// plain list (which means `FIRST 1 (list)`). Names may be `*` or double-quoted.
public struct SyncStandbyNames: Sendable, Equatable {
    /// How the synchronous standbys are chosen.
    public enum Method: String, Sendable {
        /// `FIRST n`: the first n connected standbys in list order.
        case priority = "FIRST"
        /// `ANY n`: any n of the listed standbys (quorum commit).
        case quorum = "ANY"
    }

    /// Priority or quorum.
    public let method: Method
    /// How many standbys must confirm a commit.
    public let count: Int
    /// The standby names, unquoted; `*` is the wildcard.
    public let names: [String]

    /// True when the list contains `*` (matches any standby).
    public var hasWildcard: Bool { names.contains("*") }

    /// The names other than `*`.
    public var explicitNames: [String] { names.filter { $0 != "*" } }

    /// Parses a value; nil for an empty value (synchronous replication off).
    /// - Throws: ``SyncStandbyNamesError`` with the position and what was expected.
    public static func parse(_ text: String) throws(SyncStandbyNamesError) -> SyncStandbyNames? {
        var parser = Parser(tokens: try tokenize(text), text: text)
        return try parser.parse()
    }

    /// True when `applicationName` is one the entry `name` selects (PostgreSQL compares
    /// case-insensitively; `*` matches any).
    public static func matches(_ name: String, applicationName: String) -> Bool {
        name == "*" || name.lowercased() == applicationName.lowercased()
    }

    /// A lexical token of the value.
    enum Token: Equatable {
        case name(String)
        case number(Int, String)
        case first, any, open, close, comma
    }

    /// Splits the value into tokens the way syncrep_scanner.l does.
    static func tokenize(_ text: String) throws(SyncStandbyNamesError) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if let punct: Token = [",": .comma, "(": .open, ")": .close][c] {
                tokens.append(punct)
                i += 1
            } else if c == "*" {
                tokens.append(.name("*"))
                i += 1
            } else if c == "\"" {
                tokens.append(.name(try quoted(chars, &i, text: text)))
            } else if c.isASCII && c.isNumber {
                let start = i
                while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
                let digits = String(chars[start..<i])
                tokens.append(.number(Int(digits) ?? Int.max, digits))
            } else if isIdentifierStart(c) {
                let start = i
                while i < chars.count,
                    isIdentifierStart(chars[i])
                        || (chars[i].isASCII && (chars[i].isNumber || chars[i] == "$"))
                {
                    i += 1
                }
                let word = String(chars[start..<i])
                switch word.lowercased() {
                case "first": tokens.append(.first)
                case "any": tokens.append(.any)
                default: tokens.append(.name(word))
                }
            } else {
                throw SyncStandbyNamesError(text: text, message: "unexpected character \"\(c)\"")
            }
        }
        return tokens
    }

    /// Letters, `_` and any non-ASCII character start an identifier (as in PostgreSQL).
    static func isIdentifierStart(_ c: Character) -> Bool {
        !c.isASCII || c == "_" || (c.isLetter && c.isASCII)
    }

    /// A double-quoted name starting at `chars[i]`; `""` inside stands for one `"`.
    private static func quoted(_ chars: [Character], _ i: inout Int, text: String)
        throws(SyncStandbyNamesError) -> String
    {
        var name = ""
        i += 1
        while i < chars.count {
            if chars[i] == "\"" {
                if i + 1 < chars.count, chars[i + 1] == "\"" {
                    name.append("\"")
                    i += 2
                    continue
                }
                i += 1
                guard !name.isEmpty else {
                    throw SyncStandbyNamesError(text: text, message: "empty quoted name \"\"")
                }
                return name
            }
            name.append(chars[i])
            i += 1
        }
        throw SyncStandbyNamesError(text: text, message: "unterminated quoted name")
    }

    /// A recursive-descent parser over the tokens.
    struct Parser {
        var tokens: [Token]
        let text: String
        var position = 0

        mutating func parse() throws(SyncStandbyNamesError) -> SyncStandbyNames? {
            guard !tokens.isEmpty else { return nil }
            var method = Method.priority
            var count = 1
            var grouped = false
            if let keyword = peek, keyword == .first || keyword == .any {
                method = keyword == .any ? .quorum : .priority
                position += 1
                guard case .number(let n, _) = peek else {
                    throw fail("a number after \(method.rawValue)")
                }
                count = n
                position += 1
                grouped = true
            } else if case .number(let n, _) = peek, tokens.count > 1, tokens[1] == .open {
                count = n
                position += 1
                grouped = true
            }
            if grouped { try expect(.open, "\"(\"") }
            let names = try list()
            if grouped { try expect(.close, "\")\" or \",\"") }
            guard position == tokens.count else { throw fail("\",\" or the end of the value") }
            guard count > 0 else {
                throw SyncStandbyNamesError(
                    text: text, message: "the number of synchronous standbys must be at least 1")
            }
            return SyncStandbyNames(method: method, count: count, names: names)
        }

        mutating func list() throws(SyncStandbyNamesError) -> [String] {
            var names: [String] = []
            while true {
                switch next() {
                case .name(let name): names.append(name)
                case .number(_, let digits): names.append(digits)
                default:
                    position -= 1
                    throw fail("a standby name")
                }
                guard peek == .comma else { return names }
                position += 1
            }
        }

        mutating func expect(_ token: Token, _ what: String) throws(SyncStandbyNamesError) {
            guard peek == token else { throw fail(what) }
            position += 1
        }

        var peek: Token? { position < tokens.count ? tokens[position] : nil }

        mutating func next() -> Token? {
            defer { position += 1 }
            return peek
        }

        func fail(_ expected: String) -> SyncStandbyNamesError {
            let index = min(position, tokens.count)
            let found = index < tokens.count ? "\(describe(tokens[index]))" : "the end"
            return SyncStandbyNamesError(
                text: text, message: "expected \(expected), found \(found)")
        }

        func describe(_ token: Token) -> String {
            switch token {
            case .name(let n): "\"\(n)\""
            case .number(_, let digits): digits
            case .first: "FIRST"
            case .any: "ANY"
            case .open: "\"(\""
            case .close: "\")\""
            case .comma: "\",\""
            }
        }
    }
}

/// A `synchronous_standby_names` value that PostgreSQL would reject.
public struct SyncStandbyNamesError: WalmgrError {
    /// The value as given.
    public let text: String
    /// What is wrong.
    public let message: String
    /// A malformed argument is a usage error.
    public var exitCode: Int32 { 64 }

    public var description: String {
        "synchronous_standby_names \"\(text)\" is not valid: \(message). Forms: \"s1, s2\", "
            + "\"FIRST 1 (s1, s2)\", \"ANY 2 (s1, s2, s3)\", \"2 (s1, s2)\", \"*\", \"\" (off)"
    }
}
