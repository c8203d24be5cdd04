import Foundation

/// Pure pg_hba.conf editing: the replication line walmgr proposes, and inserting it before the
/// first rule (pg_hba.conf is first-match, so a line appended after a catch-all would never
/// apply). Comments and every other line stay byte for byte.
public enum HBAFile {
    /// The rule a standby needs: `host replication USER ADDR/32 METHOD`, or a `local` rule for
    /// a Unix-socket client.
    public static func replicationLine(client: HBAClient, method: String) -> String {
        let user = quoteUser(client.user)
        guard let address = client.address else {
            return pad("local", 8) + pad("replication", 16) + pad(user, 16) + pad("", 24) + method
        }
        return pad("host", 8) + pad("replication", 16) + pad(user, 16)
            + pad(IPAddress.hostCIDR(address), 24) + method
    }

    /// The comment walmgr writes above the line, so a DBA knows where it came from.
    public static let marker = "# added by walmgr setup --hba (streaming replication)"

    /// `text` with `line` inserted before the first rule; nil when an equal rule (same fields,
    /// any spacing) is already in the file.
    public static func inserting(_ line: String, into text: String) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let wanted = fields(line)
        if lines.contains(where: { fields($0) == wanted }) { return nil }
        let first = lines.firstIndex { !fields($0).isEmpty } ?? lines.count
        // An empty file (or one with only comments) ends with "" after the last newline.
        let at = first == lines.count && lines.last == "" ? lines.count - 1 : first
        lines.insert(contentsOf: [marker, line], at: at)
        return lines.joined(separator: "\n")
    }

    /// The whitespace-separated fields of a line, without a trailing comment; quoted fields
    /// stay whole.
    static func fields(_ line: String) -> [String] {
        var result: [String] = []
        var current = ""
        var quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() }
            if !quoted && ch == "#" { break }
            if !quoted && (ch == " " || ch == "\t" || ch == "\r") {
                if !current.isEmpty { result.append(current) }
                current = ""
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// A role name as pg_hba.conf needs it: double-quoted unless a plain lowercase identifier
    /// (and not a keyword such as `all`).
    static func quoteUser(_ user: String) -> String {
        let plain = user.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
        let keywords: Set<String> = ["all", "sameuser", "samerole", "samegroup", "replication"]
        guard !plain || user.isEmpty || keywords.contains(user) || user.first!.isNumber else {
            return user
        }
        return "\"" + user.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
