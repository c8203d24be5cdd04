import Foundation

/// Pure helpers for libpq connection strings, in keyword/value form (`host=h port=5432`)
/// and URI form (`postgresql://user:secret@host:5432/db?sslmode=require`).
public enum Conninfo {
    /// What a masked password looks like.
    public static let mask = "********"

    /// The conninfo with every password value replaced by `********`.
    public static func masked(_ conninfo: String) -> String {
        if isURI(conninfo) { return maskedURI(conninfo) }
        var out = ""
        var last = conninfo.startIndex
        for pair in pairs(conninfo) where pair.key == "password" {
            out += conninfo[last..<pair.valueRange.lowerBound]
            out += mask
            last = pair.valueRange.upperBound
        }
        out += conninfo[last...]
        return out
    }

    /// The value of `key` in a conninfo (quotes and backslash escapes removed), or nil.
    ///
    /// The last occurrence wins, as in libpq. URI conninfos answer `user`, `password`,
    /// `host`, `port`, `dbname` and their query parameters.
    public static func value(_ key: String, in conninfo: String) -> String? {
        if isURI(conninfo) { return uriValues(conninfo).last { $0.key == key }?.value }
        return pairs(conninfo).last { $0.key == key }?.value
    }

    /// A value quoted for a keyword/value conninfo: `'...'` with `'` and `\` backslash-escaped.
    public static func quoteValue(_ v: String) -> String {
        var out = "'"
        for ch in v {
            if ch == "'" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return out + "'"
    }

    /// True when the conninfo is a `postgresql://` or `postgres://` URI.
    public static func isURI(_ conninfo: String) -> Bool {
        let trimmed = conninfo.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
        return trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://")
    }

    /// One `key=value` of a keyword/value conninfo, with where its raw value sits.
    struct Pair {
        let key: String
        let value: String
        let valueRange: Range<String.Index>
    }

    /// Splits a keyword/value conninfo. Tolerant: a malformed tail never hides a password.
    static func pairs(_ s: String) -> [Pair] {
        var result: [Pair] = []
        var i = s.startIndex
        func skipSpace() { while i < s.endIndex, s[i].isWhitespace { i = s.index(after: i) } }
        while true {
            skipSpace()
            guard i < s.endIndex else { break }
            let keyStart = i
            while i < s.endIndex, s[i] != "=", !s[i].isWhitespace { i = s.index(after: i) }
            let key = String(s[keyStart..<i])
            skipSpace()
            guard i < s.endIndex, s[i] == "=" else { continue }
            i = s.index(after: i)
            skipSpace()
            let valueStart = i
            var value = ""
            let quoted = i < s.endIndex && s[i] == "'"
            if quoted { i = s.index(after: i) }
            while i < s.endIndex {
                let ch = s[i]
                if quoted ? ch == "'" : ch.isWhitespace { break }
                if ch == "\\", s.index(after: i) < s.endIndex { i = s.index(after: i) }
                value.append(s[i])
                i = s.index(after: i)
            }
            if quoted, i < s.endIndex { i = s.index(after: i) }
            result.append(Pair(key: key, value: value, valueRange: valueStart..<i))
        }
        return result
    }

    /// The user-info and query-parameter passwords of a URI, masked.
    static func maskedURI(_ uri: String) -> String {
        guard let scheme = uri.range(of: "://") else { return uri }
        let query = uri[scheme.upperBound...].firstIndex(of: "?") ?? uri.endIndex
        var head = String(uri[..<query])
        let afterScheme = head.range(of: "://")!.upperBound
        if let at = head[afterScheme...].lastIndex(of: "@"),
            let colon = head[afterScheme..<at].firstIndex(of: ":")
        {
            head.replaceSubrange(head.index(after: colon)..<at, with: mask)
        }
        guard query < uri.endIndex else { return head }
        let params = uri[uri.index(after: query)...].split(
            separator: "&", omittingEmptySubsequences: false)
        let maskedParams = params.map { param -> String in
            let name = param.split(separator: "=", maxSplits: 1).first ?? ""
            return name == "password" ? "password=\(mask)" : String(param)
        }
        return head + "?" + maskedParams.joined(separator: "&")
    }

    /// The keywords a URI sets, percent-decoded, in order.
    static func uriValues(_ uri: String) -> [(key: String, value: String)] {
        guard let scheme = uri.range(of: "://") else { return [] }
        var rest = Substring(uri[scheme.upperBound...])
        var out: [(key: String, value: String)] = []
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at].split(separator: ":", maxSplits: 1)
            if let user = info.first { out.append(("user", percentDecoded(user))) }
            if info.count > 1 { out.append(("password", percentDecoded(info[1]))) }
            rest = rest[rest.index(after: at)...]
        }
        let hostPort = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let authority = hostPort.first ?? ""
        if hostPort.count > 1, !hostPort[1].isEmpty {
            out.append(("dbname", percentDecoded(hostPort[1])))
        }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            out.append(
                ("host", String(authority[authority.index(after: authority.startIndex)..<close])))
            let tail = authority[authority.index(after: close)...]
            if tail.hasPrefix(":") { out.append(("port", String(tail.dropFirst()))) }
        } else if !authority.isEmpty {
            let parts = authority.split(separator: ":", maxSplits: 1)
            if let host = parts.first { out.append(("host", percentDecoded(host))) }
            if parts.count > 1 { out.append(("port", String(parts[1]))) }
        }
        for param in query.split(separator: "&") {
            let kv = param.split(separator: "=", maxSplits: 1)
            out.append((String(kv[0]), kv.count > 1 ? percentDecoded(kv[1]) : ""))
        }
        return out
    }

    /// Decodes `%XX` escapes; malformed escapes are kept as they are.
    static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(s.utf8)[...]
        while let b = utf8.popFirst() {
            if b == UInt8(ascii: "%"), utf8.count >= 2,
                let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
