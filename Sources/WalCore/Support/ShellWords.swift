import Foundation

/// Splits and quotes words the way a POSIX shell does, without running a shell.
///
/// walmgr never hands a string to `/bin/sh`. Commands from the config (`master_restart_cmd`,
/// `slave_start_cmd`, …) are split into an argv with ``split(_:)`` and run directly, and each
/// argument of a remote ssh command is quoted with ``quote(_:)``.
public enum ShellWords {
    /// Characters that never need quoting in a POSIX shell word.
    private static let safeCharacters = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-"
    )

    /// Characters a backslash escapes inside double quotes; before others it stays literal.
    private static let doubleQuoteEscapes: Set<Character> = ["\\", "\"", "$", "`"]

    /// Splits `s` into words like `sh` does: quotes and backslashes, but no expansion.
    ///
    /// Single quotes keep everything literally. Inside double quotes a backslash escapes only
    /// `\`, `"`, `$`, `` ` `` and a newline. Outside quotes a backslash escapes the next
    /// character, and backslash-newline joins lines. `$(…)`, backticks, `;`, `|`, `&` and `#` are
    /// ordinary characters: nothing is expanded and no command is run.
    /// - Throws: ``ShellWordsError`` for an unterminated quote or a trailing backslash.
    public static func split(_ s: String) throws(ShellWordsError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var chars = Array(s)[...]
        while let c = chars.popFirst() {
            switch c {
            case " ", "\t", "\n", "\r":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "'":
                inWord = true
                guard let end = chars.firstIndex(of: "'") else {
                    throw ShellWordsError(.unterminatedSingleQuote, input: s)
                }
                current += String(chars[chars.startIndex..<end])
                chars = chars[(end + 1)...]
            case "\"":
                inWord = true
                current += try doubleQuoted(&chars, input: s)
            case "\\":
                guard let next = chars.popFirst() else {
                    throw ShellWordsError(.trailingBackslash, input: s)
                }
                if next != "\n" {
                    current.append(next)
                    inWord = true
                }
            default:
                current.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// Reads the inside of a double-quoted string, consuming the closing quote.
    private static func doubleQuoted(
        _ chars: inout ArraySlice<Character>, input: String
    ) throws(ShellWordsError) -> String {
        var result = ""
        while let c = chars.popFirst() {
            switch c {
            case "\"":
                return result
            case "\\":
                guard let next = chars.popFirst() else {
                    throw ShellWordsError(.unterminatedDoubleQuote, input: input)
                }
                if doubleQuoteEscapes.contains(next) {
                    result.append(next)
                } else if next != "\n" {
                    result.append("\\")
                    result.append(next)
                }
            default:
                result.append(c)
            }
        }
        throw ShellWordsError(.unterminatedDoubleQuote, input: input)
    }

    /// Returns `s` as one POSIX-sh word: unchanged when it is plainly safe, else single-quoted.
    ///
    /// `split(quote(x)) == [x]` for every string, and a shell reading the result sees `x`
    /// literally. An empty string becomes `''`.
    public static func quote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ safeCharacters.contains($0) }) {
            return s
        }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Returns `s` as one word of rsync's `-e` value: unchanged when plainly safe, else in single
    /// quotes with each `'` doubled.
    ///
    /// rsync splits that value itself, not through a shell (main.c, `do_cmd`): at spaces only,
    /// `'…'` and `"…"` group, a doubled quote inside them stands for one, and a backslash is an
    /// ordinary character. ``quote(_:)``'s `'\''` would come apart there.
    public static func rsyncQuote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ safeCharacters.contains($0) }) {
            return s
        }
        return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// Quotes every word and joins them with spaces, giving one shell command line.
    public static func join(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}

/// Why a string could not be split into shell words.
public struct ShellWordsError: WalmgrError, Equatable {
    /// The kind of syntax problem.
    public enum Kind: Sendable, Equatable {
        /// A `'` without its closing `'`.
        case unterminatedSingleQuote
        /// A `"` without its closing `"`.
        case unterminatedDoubleQuote
        /// A `\` at the very end, with nothing to escape.
        case trailingBackslash
    }

    /// The kind of syntax problem.
    public let kind: Kind
    /// The text that was being split.
    public let input: String

    /// Creates an error of `kind` for `input`.
    public init(_ kind: Kind, input: String) {
        self.kind = kind
        self.input = input
    }

    /// What is wrong and how to fix it, without repeating the input.
    public var description: String {
        switch kind {
        case .unterminatedSingleQuote:
            return "unterminated single quote ('); close it or escape it as \\'"
        case .unterminatedDoubleQuote:
            return "unterminated double quote (\"); close it or escape it as \\\""
        case .trailingBackslash:
            return "trailing backslash (\\) with nothing after it; remove it or write \\\\"
        }
    }
}
