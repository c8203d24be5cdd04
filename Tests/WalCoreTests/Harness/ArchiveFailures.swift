import Foundation

/// The failed archive_command attempts in a PostgreSQL server log, with what the command said.
///
/// PostgreSQL retries a failed archive_command, so a test that waits for the segment passes
/// and the failure is gone with the scratch dir. The server log (logging_collector off) has
/// the command's stderr, walmgr's ERROR line, just before PostgreSQL's
/// `archive command failed` line; this keeps both for the test output.
enum ArchiveFailures {
    /// The lines of `log` that tell of failed attempts: each `archive command failed` (or
    /// `archive command was terminated`, see ``isFailure(_:)``) line with the failed run's own lines before it (the
    /// walmgr lines of the PID just before PostgreSQL's line, with their continuation lines)
    /// and the DETAIL after it (pure).
    static func attempts(inLog log: String) -> [String] {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var attempts: [String] = []
        for (index, line) in lines.enumerated() where isFailure(line) {
            var first = index
            var pid: Substring?
            while first > 0, !isServerLine(lines[first - 1]) {
                let previous = lines[first - 1]
                if !previous.hasPrefix(" ") {
                    let words = previous.split(separator: " ")
                    let own = words.count > 3 ? words[2] : ""
                    if pid != nil, own != pid { break }
                    pid = own
                }
                first -= 1
            }
            var last = index
            if index + 1 < lines.count, lines[index + 1].contains("DETAIL:") { last += 1 }
            attempts.append(lines[first...last].joined(separator: "\n"))
        }
        return attempts
    }

    /// PostgreSQL's report of one failed attempt. SIGQUIT is left out: it is the harness's own
    /// immediate stop at teardown, which catches an xarchive between its link() and its exit.
    static func isFailure(_ line: String) -> Bool {
        line.contains("archive command failed")
            || (line.contains("archive command was terminated") && !line.contains("signal 3:"))
    }

    /// A line PostgreSQL wrote (`… [pid] LOG:  …`), not one of the command's own.
    static func isServerLine(_ line: String) -> Bool {
        ["LOG:", "DETAIL:", "ERROR:", "WARNING:", "FATAL:", "HINT:", "STATEMENT:", "CONTEXT:"]
            .contains { line.contains("] \($0)") }
    }

    /// The failed attempts in the server log at `path`, empty when it has none or is gone.
    static func attempts(inLogFile path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return attempts(inLog: text)
    }

    /// Prints the failed attempts in the server log at `path` to the test output, so a
    /// retried failure is seen even when the test passes; nothing when there are none.
    static func report(logFile path: String) {
        let found = attempts(inLogFile: path)
        guard !found.isEmpty else { return }
        print(
            "archive_command failed \(found.count) time(s), server log \(path):\n"
                + found.joined(separator: "\n--\n"))
    }
}
