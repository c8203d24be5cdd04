import Foundation

/// Where a walmgr directory lives: a local path, or `host:path` reached over ssh.
public enum Location: Sendable, Equatable, CustomStringConvertible {
    /// A path on this machine.
    case local(String)
    /// A path on another host; an IPv6 host is kept without its brackets (`user@::1`).
    case remote(host: String, path: String)

    /// Parses `[user@]host:path` (no `/` before the first `:`), `[user@][v6addr]:path`, or a
    /// local path.
    public init(_ text: String) {
        if let (host, path) = Self.splitRemote(text) {
            self = Location.isLocalHost(host) ? .local(path) : .remote(host: host, path: path)
        } else {
            self = .local(text)
        }
    }

    /// The host and path of a `host:path` text, brackets of an IPv6 host dropped; nil when the
    /// text is a local path.
    static func splitRemote(_ text: String) -> (host: String, path: String)? {
        if let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close,
            text[..<open].isEmpty || text[..<open].hasSuffix("@"),
            !text[..<open].contains(where: { $0 == "/" || $0 == ":" }),
            text[close...].dropFirst().hasPrefix(":")
        {
            let host = String(text[..<open]) + text[text.index(after: open)..<close]
            return (host, String(text[text.index(close, offsetBy: 2)...]))
        }
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex,
            !text[..<colon].contains("/")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The path part.
    public var path: String {
        switch self {
        case .local(let p), .remote(_, let p): p
        }
    }

    /// The host, or nil for a local path.
    public var host: String? {
        if case .remote(let host, _) = self { return host }
        return nil
    }

    /// `localhost` and an empty host mean this machine; 127.0.0.1 does not (tests use it for ssh).
    public static func isLocalHost(_ host: String?) -> Bool {
        guard let host else { return true }
        return host.isEmpty || host == "localhost"
    }

    /// True for `[user@]host` where host is a name (letters, digits, `.`, `-`, `_`), an IPv4
    /// address or an IPv6 address, bare or in brackets, and user is made of the same
    /// characters; neither starts with `-` (ssh would read it as an option), at most 255 bytes.
    /// Spaces, control characters, `/` and shell characters never pass.
    public static func isValidHost(_ text: String) -> Bool {
        guard text.utf8.count <= 255 else { return false }
        let (user, name) = splitUser(text)
        if let user, !isNameWord(user) { return false }
        if name.hasPrefix("[") && name.hasSuffix("]") && name.count > 2 {
            return isIPv6(name.dropFirst().dropLast())
        }
        return isNameWord(name) || isIPv6(Substring(name))
    }

    /// `user@host` split at its `@`; no `@` gives a nil user.
    public static func splitUser(_ host: String) -> (user: String?, name: String) {
        guard let at = host.firstIndex(of: "@") else { return (nil, host) }
        return (String(host[..<at]), String(host[host.index(after: at)...]))
    }

    /// The host as ssh takes it: `[v6addr]` loses its brackets (ssh would look the brackets up
    /// as part of the name).
    public static func sshHost(_ host: String) -> String {
        let (user, name) = splitUser(host)
        guard name.hasPrefix("["), name.hasSuffix("]"), name.count > 2 else { return host }
        return (user.map { $0 + "@" } ?? "") + name.dropFirst().dropLast()
    }

    /// Letters, digits, `.`, `-`, `_`, not empty and not starting with `-`.
    static func isNameWord<S: StringProtocol>(_ word: S) -> Bool {
        !word.isEmpty && !word.hasPrefix("-")
            && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// An IPv6 address, optionally with a `%zone` made of name characters.
    static func isIPv6(_ text: Substring) -> Bool {
        let parts = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        guard text.contains(":"), parts.count == 1 || isNameWord(parts[1]) else { return false }
        var address = in6_addr()
        return inet_pton(AF_INET6, String(parts[0]), &address) == 1
    }

    public var description: String {
        switch self {
        case .local(let p): p
        case .remote(let h, let p):
            Self.splitUser(h).name.contains(":") ? "\(Self.bracketed(h)):\(p)" : "\(h):\(p)"
        }
    }

    /// `user@[v6addr]` for an IPv6 host, as rsync and `host:path` texts write it.
    static func bracketed(_ host: String) -> String {
        let (user, name) = splitUser(host)
        return (user.map { $0 + "@" } ?? "") + "[\(name)]"
    }
}
