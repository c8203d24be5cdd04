import Foundation

/// The standby's postmaster: is it running, stop it, start it, connect to it.
struct StandbyServer: Sendable {
    /// The slave config.
    let config: SlaveConfig
    /// The data directory (slave_data).
    let dataDir: String
    /// Runs pg_ctl and the configured start/stop commands.
    let runner: any ProcessRunning
    /// The logger.
    let log: Log
    /// Where pg_ctl comes from: slave_bin, or the dir ``StandbyBin`` resolved for the cluster.
    let bin: PGBin

    /// How long stop and start may take before walmgr gives up.
    static let stopWait: Duration = .seconds(5)
    static let startWait: Duration = .seconds(60)

    init(
        _ config: SlaveConfig, runner: any ProcessRunning, log: Log, dataDir: String? = nil,
        bin: PGBin? = nil
    ) {
        self.config = config
        self.dataDir = dataDir ?? config.slaveData
        self.runner = runner
        self.log = log
        self.bin = bin ?? PGBin(config.slaveBin)
    }

    /// The postmaster pid from postmaster.pid when that process is alive.
    var runningPID: Int32? { PostmasterPidFile(dataDir: dataDir).livePID }

    /// postmaster.pid's status line: `starting`, `ready`, `standby` or `stopping`.
    var pidFileStatus: String? { PostmasterPidFile(dataDir: dataDir).status }

    /// `slave_stop_cmd`, or `pg_ctl -D DATA -m fast -w stop`.
    func stopCommand() throws -> Command {
        if let argv = config.slaveStopCmd, !argv.isEmpty { return Command(argv: argv) }
        return Command(
            try bin.path("pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"])
    }

    /// The default start log, used by the default start command.
    var startLog: String { "\(dataDir)/log/walmgr-start.log" }

    /// `slave_start_cmd`, or `pg_ctl -D DATA -l DATA/log/walmgr-start.log -w start`, with each
    /// of `settings` ("name=value") as `-o "-c name=value"`: for this start only, never written
    /// to a config file. slave_start_cmd is the user's own command and is run as it is.
    func startCommand(settings: [String] = []) throws -> Command {
        if let argv = config.slaveStartCmd, !argv.isEmpty { return Command(argv: argv) }
        let pgCtl = try bin.path("pg_ctl")
        let options = settings.flatMap { ["-o", "-c \($0)"] }
        return Command(
            pgCtl, ["-D", dataDir, "-l", startLog, "-w", "-t", "60"] + options + ["start"])
    }

    /// Stops a running standby; throws ``StandbyError/stillRunning`` when it survives.
    func stop() async throws {
        guard let pid = runningPID else { return }
        let command = try stopCommand()
        log.info("stopping the standby (pid \(pid)) with \(command)")
        let result = try await runner.run(command, input: .none, timeout: .seconds(120))
        if !result.succeeded {
            log.warning("\(command) failed (\(result.statusText)): \(result.stderrTail)")
        }
        let deadline = ContinuousClock.now + Self.stopWait
        while let alive = runningPID {
            guard ContinuousClock.now < deadline else {
                throw StandbyError.stillRunning(
                    pid: alive, dataDir: dataDir, stopCommand: command.description)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        log.info("the standby is stopped")
    }

    /// The last lines of the newest server log walmgr knows about.
    func logTail(lines: Int = 20) -> String {
        var candidates = [startLog]
        let logDir = "\(dataDir)/log"
        if let names = try? FileManager.default.contentsOfDirectory(atPath: logDir) {
            candidates += names.map { "\(logDir)/\($0)" }
        }
        let newest = candidates.compactMap { path -> (String, Date)? in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let date = attributes[.modificationDate] as? Date
            else { return nil }
            return (path, date)
        }.max { $0.1 < $1.1 }
        guard let (path, _) = newest, let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return "(no server log found in \(logDir); see slave_start_cmd's log)" }
        return "\(path):\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
