import Foundation

/// A problem with a walmgr INI file or a `--set` override; the message names where and how to fix.
///
/// It is a ``WalmgrError``, so the CLI maps it to ``exitCode``.
/// `file` is the config path as the user gave it; `line` is 1-based, and 0 means the value came
/// from a `--set` override.
public enum ConfigError: WalmgrError, Equatable {
    /// The config file does not exist.
    case fileNotFound(path: String)
    /// The config file exists but cannot be read (permissions, a directory, not UTF-8).
    case fileUnreadable(path: String, reason: String, owner: String, mode: String, user: String)
    /// The config file is larger than ``ConfigFileAccess/maxFileSize`` (a log or device by mistake).
    case fileTooLarge(path: String, size: String)
    /// A line is neither a comment, a `[section]` nor `key = value`.
    case malformedLine(file: String, line: Int, text: String)
    /// A `key = value` line appears before any `[section]` header.
    case keyOutsideSection(file: String, line: Int, text: String)
    /// A required section, usually `[walmgr]`, is missing.
    case missingSection(file: String, section: String)
    /// A key a command needs is not set.
    case missingKey(file: String, key: String, command: String, example: String)
    /// `%(name)s` refers to a key defined nowhere.
    case undefinedReference(file: String, line: Int, key: String, reference: String)
    /// Keys refer to each other in a loop; `chain` starts and ends with the same key.
    case interpolationCycle(file: String, line: Int, chain: [String])
    /// References nest deeper than the limit of 10.
    case interpolationTooDeep(file: String, line: Int, chain: [String])
    /// A `%` that starts neither `%(name)s` nor `%%`.
    case badPercent(file: String, line: Int, key: String)
    /// A boolean key has a word other than 1/yes/true/on or 0/no/false/off.
    case badBool(file: String, line: Int, key: String, value: String)
    /// A numeric key has something that is not a number in range.
    case badNumber(file: String, line: Int, key: String, value: String, expected: String)
    /// A key with a fixed set of values has another value.
    case badChoice(file: String, line: Int, key: String, value: String, allowed: [String])
    /// A command or word-list value has unbalanced quotes.
    case badShellWords(file: String, line: Int, key: String, error: ShellWordsError)
    /// An ssh host (`slave`, or the host of a `host:path` value) that is not a host name or
    /// address; it could otherwise reach ssh or rsync as an option.
    case badHost(file: String, line: Int, key: String, host: String)
    /// A `--set` argument is not `KEY=VALUE`.
    case badOverride(String)

    /// The exit status: 64 (usage) for a bad `--set`, 1 otherwise.
    public var exitCode: Int32 {
        if case .badOverride = self { return 64 }
        return 1
    }

    /// What failed, where, and what to do about it.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "config file \(path) does not exist; check the path or create it "
                + "(walmgr --init-master / --init-slave writes one)"
        case .fileUnreadable(let path, let reason, let owner, let mode, let user):
            return "cannot read config file \(path): \(reason) (owner \(owner), mode \(mode), "
                + "walmgr runs as \(user)); make it readable by \(user)"
        case .fileTooLarge(let path, let size):
            return "refusing config file \(path): it is \(size), more than the 1 MiB walmgr reads "
                + "from a config file; nothing was read. Point walmgr at its INI file (a few KiB), "
                + "not at a log or a device"
        case .malformedLine(let file, let line, let text):
            return "\(Self.place(file, line)): expected \"key = value\", \"[section]\" or a "
                + "comment, found \"\(Self.masked(text))\""
        case .keyOutsideSection(let file, let line, let text):
            return "\(Self.place(file, line)): \"\(Self.masked(text))\" comes before any "
                + "[section] header; put it under [walmgr]"
        case .missingSection(let file, let section):
            return "\(file) has no [\(section)] section; walmgr reads its keys from [\(section)]"
        case .missingKey(let file, let key, let command, let example):
            return "missing key \(key) in \(file): the \(command) command needs it; "
                + "add \(key) = \(example) under [walmgr] (or pass --set \(key)=...)"
        case .undefinedReference(let file, let line, let key, let reference):
            return "\(Self.place(file, line)): \(key) refers to %(\(reference))s, but "
                + "\(reference) is not defined in [walmgr], [DEFAULT] or the built-ins "
                + "(\(Interpolation.builtinNames.joined(separator: ", "))); "
                + "define \(reference) or fix the reference"
        case .interpolationCycle(let file, let line, let chain):
            let who =
                chain.count <= 2
                ? "\(chain[0]) refers to itself"
                : "\(chain[0]) and \(chain[chain.count - 2]) refer to each other"
            return "\(Self.place(file, line)): interpolation cycle "
                + "\(chain.joined(separator: " -> ")): \(who) through %(...)s; "
                + "replace one reference with a literal value"
        case .interpolationTooDeep(let file, let line, let chain):
            return "\(Self.place(file, line)): %(...)s references nest deeper than "
                + "\(Interpolation.maxDepth) levels (\(chain.joined(separator: " -> "))); "
                + "use fewer levels of indirection"
        case .badPercent(let file, let line, let key):
            return "\(Self.place(file, line)): \(key) has a % that starts neither %(name)s "
                + "nor %%; write %% for a literal %"
        case .badBool(let file, let line, let key, let value):
            return "\(Self.place(file, line)): \(key) must be one of 1/yes/true/on or "
                + "0/no/false/off, found \"\(value)\""
        case .badNumber(let file, let line, let key, let value, let expected):
            return "\(Self.place(file, line)): \(key) must be \(expected), found \"\(value)\""
        case .badChoice(let file, let line, let key, let value, let allowed):
            return "\(Self.place(file, line)): \(key) must be one of "
                + "\(allowed.joined(separator: ", ")), found \"\(value)\""
        case .badShellWords(let file, let line, let key, let error):
            return "\(Self.place(file, line)): cannot split \(key) into words: \(error)"
        case .badHost(let file, let line, let key, let host):
            let local =
                key == "slave" ? "" : " (a local path must not have ':' before its first '/')"
            return "\(Self.place(file, line)): \(key) names the ssh host \(host.debugDescription), "
                + "which is not a host name: use [user@]host with letters, digits, '.', '-', '_' "
                + "(not starting with '-'), an IPv4 address or an IPv6 address\(local); "
                + "ssh options go in ssh_options"
        case .badOverride(let text):
            return "--set \(Self.masked(text)): expected --set KEY=VALUE, e.g. "
                + "--set loop_delay=5"
        }
    }

    /// `file:line`, or `file (--set)` for a value from an override.
    static func place(_ file: String, _ line: Int) -> String {
        line > 0 ? "\(file):\(line)" : "\(file) (--set)"
    }

    /// Hides the value of `password=` so a quoted config line never leaks a secret.
    static func masked(_ text: String) -> String {
        text.replacingOccurrences(
            of: #"(password\s*=\s*)('[^']*'|\S+)"#,
            with: "$1***",
            options: [.regularExpression, .caseInsensitive]
        )
    }
}
