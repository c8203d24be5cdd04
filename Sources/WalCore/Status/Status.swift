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
}
