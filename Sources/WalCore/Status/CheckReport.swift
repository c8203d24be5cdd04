import Foundation

/// The outcome of one preflight check: a name, a detail line, and the fix when it failed.
public struct CheckResult: Sendable, Equatable {
    /// Short name, e.g. `archive_command`.
    public let name: String
    /// True when the check passed.
    public let ok: Bool
    /// What was found.
    public let detail: String
    /// What to do about a failure (empty when it passed).
    public let fix: String

    /// A passed check.
    public static func pass(_ name: String, _ detail: String) -> CheckResult {
        CheckResult(name: name, ok: true, detail: detail, fix: "")
    }

    /// A failed check with its fix.
    public static func fail(_ name: String, _ detail: String, fix: String = "") -> CheckResult {
        CheckResult(name: name, ok: false, detail: detail, fix: fix)
    }

    /// One line: `OK   name: detail` or `FAIL name: detail; fix: …` (multi-line tool output,
    /// such as ssh's host key warning, is folded so each check stays one line).
    public var line: String {
        let text =
            ok
            ? "OK   \(name): \(detail)"
            : fix.isEmpty ? "FAIL \(name): \(detail)" : "FAIL \(name): \(detail); fix: \(fix)"
        return text.split(whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }.joined(separator: " ")
    }
}

/// Collects check results and prints each as soon as it is known, so a slow check (ssh, the
/// archive round trip) does not hide the ones before it.
final class CheckReport: @unchecked Sendable {
    // Only the command's own task appends; @unchecked because a class holds the array.
    private(set) var results: [CheckResult] = []
    private let printer: (@Sendable (String) -> Void)?

    init(printer: (@Sendable (String) -> Void)? = CheckReport.stdout) {
        self.printer = printer
    }

    static let stdout: @Sendable (String) -> Void = { line in
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Records and prints a result. A failure whose fix an earlier failure already gave (one
    /// root-owned walmgr_data breaks every directory under it) is shortened to point there, so
    /// the fix is read once and the cause is not repeated as separate findings. Results of
    /// the same check (two unknown keys under `config`) are separate findings and stay whole.
    func add(_ result: CheckResult) {
        var result = result
        if !result.ok, !result.fix.isEmpty,
            let earlier = results.first(where: {
                !$0.ok && $0.fix == result.fix && $0.name != result.name
            })
        {
            result = .fail(result.name, "same cause as \(earlier.name) above (same fix)")
        }
        results.append(result)
        printer?(result.line)
    }

    /// Records several results.
    func add(_ list: [CheckResult]) { list.forEach(add) }

    /// Runs a check that may throw; a thrown error becomes a FAIL with its own message (which
    /// says how to fix it).
    func run(_ name: String, _ body: () async throws -> CheckResult) async {
        do {
            add(try await body())
        } catch {
            add(.fail(name, "\(error)"))
        }
    }

    /// True when nothing failed.
    var allPassed: Bool { results.allSatisfy(\.ok) }

    /// The summary line and exit status: 0 only when every check passed.
    func finish() -> Int32 {
        let failed = results.filter { !$0.ok }.count
        printer?(
            failed == 0
                ? "all \(results.count) checks passed"
                : "\(failed) of \(results.count) checks failed")
        return failed == 0 ? 0 : 1
    }
}
