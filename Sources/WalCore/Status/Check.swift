import Foundation

/// `check [--archive]`: a preflight that prints one `OK`/`FAIL` line per check, with the fix,
/// and exits 0 only when every check passed.
///
/// The config has already been parsed when this runs (a parse error stops walmgr before any
/// command, with the file and line), so the first lines report that stage: passed, or one FAIL
/// per ignored key (a typo'd key silently falls back to its default, which check must not hide).
enum Check {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let report = CheckReport()
        // Loading again is cheap and keeps the warnings out of CommandContext.
        let warnings =
            (try? ConfigLoader.load(
                path: context.invocation.configPath, overrides: context.invocation.overrides))?
            .warnings ?? []
        report.add(configStage(context.config, warnings: warnings))
        switch context.config {
        case .master(let master):
            await MasterCheck(config: master, context: context, report: report).run()
        case .slave(let slave):
            await SlaveCheck(config: slave, context: context, report: report).run()
        }
        return report.finish()
    }

    /// The config stage: a pass, or a FAIL for each key the loader ignored.
    static func configStage(_ config: WalmgrConfig, warnings: [String]) -> [CheckResult] {
        guard warnings.isEmpty else {
            return warnings.map {
                .fail("config", $0, fix: "correct the key's name or remove it")
            }
        }
        return [
            .pass(
                "config",
                "\(config.common.configFile) parses (\(config.role.rawValue) config, "
                    + "walmgr runs as \(UserAccount.currentName))")
        ]
    }

    /// The parse stage on its own: loads `path` and reports the keys the role needs (used by
    /// tests on examples/*.ini, whose paths do not exist on the test machine).
    static func parseStage(path: String) throws -> [CheckResult] {
        let loaded = try ConfigLoader.load(path: path, overrides: [])
        var results: [CheckResult] = [.pass("config", "\(path) parses")]
        let common = loaded.config.common
        var needed: [(String, String?)] = [("completed_wals", common.completedWals)]
        switch loaded.config {
        case .master(let m):
            needed += [
                ("master_data", m.masterData), ("master_db", m.masterDb),
                ("slave_config", m.slaveConfig),
            ]
        case .slave(let s):
            needed += [("slave_data", s.slaveData), ("full_backup", common.fullBackup)]
        }
        for (key, value) in needed {
            if let value, !value.isEmpty {
                results.append(.pass(key, value))
            } else {
                results.append(.fail(key, "\(common.missing(key, "check"))"))
            }
        }
        return results
    }
}
