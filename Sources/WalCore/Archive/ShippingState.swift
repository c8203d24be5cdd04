import Foundation

/// `.walshipping.last` and the periodic command: master-side bookkeeping after a shipped file.
enum ShippingState {
    /// The name of the last file shipped, in the master's data dir (walmgr3's file).
    static let lastFile = ".walshipping.last"
    static let periodicStamp = ".walshipping.periodic"

    /// Records the last shipped name; a failure is logged, since the WAL itself is already safe.
    ///
    /// Atomic (readers never see half) but not fsynced: Foundation's createFile fsynced it,
    /// one more journal commit per segment (10 ms, a third of xarchive's time). A name lost in
    /// a crash only makes syncdaemon's file mode send more segments again.
    static func recordShipped(_ name: WALName, dataDir: String, log: Log) {
        guard name.kind == .segment else { return }
        let path = "\(dataDir)/\(lastFile)"
        do {
            try Durable.replace(Array((name.name + "\n").utf8), at: path, durable: false)
        } catch {
            log.warning("could not record \(name) in \(path): \(error)")
        }
    }

    /// The last shipped name, if any.
    static func lastShipped(dataDir: String) -> WALName? {
        guard let text = try? String(contentsOfFile: "\(dataDir)/\(lastFile)", encoding: .utf8)
        else { return nil }
        return WALName(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs `periodic_command` when `command_interval` seconds have passed since its last run.
    static func runPeriodic(config: MasterConfig, context: CommandContext) async {
        guard let argv = config.periodicCommand, !argv.isEmpty, config.commandInterval > 0 else {
            return
        }
        let stamp = "\(config.masterData)/\(periodicStamp)"
        var st = stat()
        let now = time(nil)
        if stat(stamp, &st) == 0, now - st.st_mtim.tv_sec < config.commandInterval { return }
        _ = FileManager.default.createFile(atPath: stamp, contents: Data())
        do {
            let result = try await context.runner.run(Command(argv: argv))
            if result.succeeded {
                context.log.info("periodic_command finished")
            } else {
                context.log.error(
                    "periodic_command \(Command(argv: argv)) failed (\(result.statusText)): "
                        + result.stderrTail)
            }
        } catch {
            context.log.error("periodic_command \(Command(argv: argv)) could not start: \(error)")
        }
    }
}
