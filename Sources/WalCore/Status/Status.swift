import Foundation

/// `status [--json]`: a health summary for monitoring (Nagios, cron). Exit 0 when healthy,
/// 1 when any problem was found; `--json` prints one object with `role`, `ok`, `problems` and
/// the details.
enum Status {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let report = StatusReport(role: context.config.role)
        switch context.config {
        case .master(let master):
            await MasterStatus(config: master, context: context, report: report).run()
        case .slave(let slave):
            await SlaveStatus(config: slave, context: context, report: report).run()
        }
        let text = context.has("--json") ? try report.jsonText() : report.text()
        FileHandle.standardOutput.write(Data(text.utf8))
        return report.ok ? 0 : 1
    }

    /// For `status --json` that failed before it could report (a config that does not load):
    /// prints `{"ok": false, "error": …}` so a monitor parsing stdout still gets an object.
    /// Does nothing for other commands.
    static func reportFailure(_ message: String, invocation: Invocation) {
        guard invocation.command == "status", invocation.arguments.contains("--json") else {
            return
        }
        FileHandle.standardOutput.write(Data(failureJSON(message).utf8))
    }

    /// The failure object: `ok`, `error`, `problems` (the error again, as status lists
    /// problems), `role` null and `checked_at`.
    static func failureJSON(_ message: String, now: Date = Date()) -> String {
        let object = JSONValue.object([
            "ok": .bool(false), "error": .string(message), "problems": .array([.string(message)]),
            "role": .null, "checked_at": .string(BackupManifest.isoTime(now)),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(object)) ?? Data(#"{"ok": false}"#.utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
