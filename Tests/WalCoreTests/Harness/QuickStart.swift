import Foundation

/// The README's Quick start as steps the two-host suite runs: each fenced block starts with a
/// comment that says where it runs (`# on the master`, `# on the slave`, `# on both hosts, as
/// root`, `# on the build host`), or, for an `ini` block, which file to add it to.
struct QuickStart: Equatable {
    /// Where a block runs.
    enum Place: String, Equatable { case master, slave, both, build }

    /// One fenced block.
    struct Block: Equatable {
        /// The `**N. Title**` it belongs to, e.g. "3. Configure the master first".
        var step: String
        /// Where it runs.
        var place: Place
        /// True for `as root` blocks.
        var asRoot: Bool
        /// Command lines (continuations joined, comments and blank lines dropped), or the
        /// lines to append for an `ini` block.
        var lines: [String]
        /// For an `ini` block: the file to append `lines` to.
        var appendTo: String?
    }

    /// The blocks in README order.
    var blocks: [Block]

    /// Parses the section `## Quick start` (or `## <section>`) of a README.
    static func parse(_ readme: String, section title: String = "Quick start") throws -> QuickStart
    {
        guard let start = readme.range(of: "\n## \(title)\n") else {
            throw HarnessError("README.md has no \"## \(title)\" section")
        }
        let rest = readme[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        var blocks: [Block] = []
        var step = ""
        var fence: (info: String, lines: [String])?
        for raw in section.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if fence == nil, line.hasPrefix("**"), let end = line.dropFirst(2).range(of: "**") {
                step = String(line.dropFirst(2)[..<end.lowerBound])
            } else if line.hasPrefix("```") {
                if let open = fence {
                    blocks.append(try block(step: step, info: open.info, body: open.lines))
                    fence = nil
                } else {
                    fence = (String(line.dropFirst(3)), [])
                }
            } else if fence != nil {
                fence!.lines.append(line)
            }
        }
        return QuickStart(blocks: blocks)
    }

    /// A block from its info string and lines; the first line must say where it runs.
    static func block(step: String, info: String, body: [String]) throws -> Block {
        guard let header = body.first, header.hasPrefix("# ") else {
            throw HarnessError("a Quick start block in \"\(step)\" does not start with # on …")
        }
        let rest = Array(body.dropFirst())
        if info == "ini" {
            guard let path = header.split(separator: " ").first(where: { $0.hasPrefix("/") })
            else { throw HarnessError("the ini block in \"\(step)\" names no file: \(header)") }
            let onSlave =
                header.contains("on the slave") || header.contains("on standby.example.com")
            let place: Place = onSlave ? .slave : .master
            let lines = rest.filter { !$0.isEmpty && !$0.hasPrefix("#") }
            return Block(
                step: step, place: place, asRoot: false, lines: lines, appendTo: String(path))
        }
        // After a failover the hosts keep their names and swap roles: those blocks name hosts.
        let places: [(String, Place)] = [
            ("on the master", .master), ("on the slave", .slave), ("on both hosts", .both),
            ("on the build host", .build), ("on standby.example.com", .slave),
            ("on master (", .master),
        ]
        guard let place = places.first(where: { header.contains($0.0) })?.1 else {
            throw HarnessError("unknown place in Quick start block \"\(step)\": \(header)")
        }
        return Block(
            step: step, place: place, asRoot: header.contains("as root"),
            lines: commandLines(rest), appendTo: nil)
    }

    /// Joins `\` continuations and drops blank lines (comments stay: sh ignores them).
    static func commandLines(_ body: [String]) -> [String] {
        var lines: [String] = []
        var pending = ""
        for line in body {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasSuffix("\\") {
                pending += trimmed.dropLast() + " "
                continue
            }
            let whole = pending + trimmed
            pending = ""
            if !whole.isEmpty && !whole.hasPrefix("#") { lines.append(whole) }
        }
        return lines
    }

    /// The same text with the suite's paths: only host paths and the bin dir change.
    static func substitute(_ text: String, _ replacements: [(String, String)]) -> String {
        replacements.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }
}
