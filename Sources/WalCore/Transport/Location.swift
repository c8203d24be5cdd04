/// Where a walmgr directory lives: a local path, or `host:path` reached over ssh.
public enum Location: Sendable, Equatable, CustomStringConvertible {
    /// A path on this machine.
    case local(String)
    /// A path on another host.
    case remote(host: String, path: String)

    /// Parses `host:path` (no `/` before the first `:`) or a local path.
    public init(_ text: String) {
        if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/"),
            colon != text.startIndex
        {
            let host = String(text[..<colon])
            let path = String(text[text.index(after: colon)...])
            self = Location.isLocalHost(host) ? .local(path) : .remote(host: host, path: path)
        } else {
            self = .local(text)
        }
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

    /// True for `[user@]host` made of name/address characters only: no `/`, spaces, shell or
    /// control characters, no leading `-` (ssh would read it as an option), at most 255 bytes.
    public static func isValidHost(_ host: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@:[]%")
        return !host.isEmpty && host.utf8.count <= 255 && !host.hasPrefix("-")
            && host.allSatisfy { allowed.contains($0) }
    }

    public var description: String {
        switch self {
        case .local(let p): p
        case .remote(let h, let p): "\(h):\(p)"
        }
    }
}
