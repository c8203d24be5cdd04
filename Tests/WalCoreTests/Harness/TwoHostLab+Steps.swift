import Foundation
import Testing
import WalCore

/// Small steps the two-host tests share: the README up to a step, walmgr on a host, editing a
/// generated ini the way a user does, and waiting for the standby.
extension TwoHostLab {
    /// The generated configs, as the README names them (inside each host).
    static let masterIni = "\(configDir)/wal-master.ini"
    static let slaveIni = "\(configDir)/wal-slave.ini"
    /// The slave's walmgr_data, as `--init-master` writes it (inside the slave).
    static let walshipping = "\(Host.home)/walshipping"

    /// A lab on which the README's Quick start ran from step 2 through step `last` (e.g. 5:
    /// archiving on, nothing backed up yet; 6: the first backup taken).
    static func prepared(binDir: String, through last: Int) async throws -> TwoHostLab {
        let quick = try QuickStart.parse(try TwoHostTests.readme())
        let lab = try await TwoHostLab(binDir: binDir)
        do {
            for block in quick.blocks where block.place != .build {
                guard let step = Int(block.step.prefix { $0.isNumber }), step <= last else {
                    continue
                }
                if block.lines.joined().contains("/tmp/master_key.pub") { try lab.copyKey() }
                try await lab.run(block)
            }
        } catch {
            lab.destroy()
            throw error
        }
        return lab
    }

    /// The README's prose step: copy the master's public key to the slave.
    func copyKey() throws {
        let pub = "\(master.homeDir)/.ssh/id_ed25519.pub"
        let target = "\(slave.homeDir)/tmp/master_key.pub"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: pub, toPath: target)
        try TestEnv.chownToRunAsUser(target, mode: 0o644)
    }

    /// `walmgr ARGS` on `host` as postgres.
    func walmgr(_ host: Host, _ args: [String]) async throws -> ProcessResult {
        try await host.run(["walmgr"] + args, timeout: .seconds(180))
    }

    /// `walmgr ARGS` on `host`; throws with its output unless it exits 0.
    @discardableResult
    func mustWalmgr(_ host: Host, _ args: [String]) async throws -> ProcessResult {
        let result = try await walmgr(host, args)
        guard result.succeeded else {
            throw HarnessError(
                "walmgr \(args.joined(separator: " ")) on \(host.name) failed "
                    + "(\(result.statusText)):\n\(result.output.suffix(2000))\(result.stderrTail)")
        }
        return result
    }

    /// Sets `key = value` in a generated ini on `host`, replacing its line as a user's editor
    /// would (appended when the file has none).
    func setKey(_ key: String, _ value: String, in ini: String, on host: Host) throws {
        let file = outside(ini, on: host)
        var lines = try String(contentsOfFile: file, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let line = "\(key) = \(value)"
        if let index = lines.firstIndex(where: {
            $0.split(separator: "=").first?.trimmingCharacters(in: .whitespaces) == key
        }) {
            lines[index] = line
        } else {
            lines.insert(line, at: max(lines.count - 1, 0))
        }
        try TestEnv.writeOwned(file, lines.joined(separator: "\n"))
    }

    /// Waits until the slave's server has replayed everything the master has written so far
    /// (switching WAL first, so an archive-only recovery gets it too).
    func waitSlaveCaughtUp(timeout: Duration = .seconds(120)) async throws {
        let lsn = try await master.psql("SELECT pg_switch_wal()")
        try await waitUntil("the standby replays up to \(lsn)", timeout: timeout) {
            try await slave.psql("SELECT pg_last_wal_replay_lsn() >= '\(lsn)'::pg_lsn") == "t"
        }
    }

    /// Waits until the segment the master is writing now is in the slave's completed_wals.
    func switchAndWaitArchived() async throws {
        let name = try await master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        let path = outside("\(Self.walshipping)/logs.complete/\(name)", on: slave)
        try await waitUntil("\(name) archived on the slave") {
            FileManager.default.fileExists(atPath: path)
        }
    }

    /// Runs the README's Quick start blocks in order until the first block of the step whose
    /// title starts with `stop` (e.g. "6." stops after "5. Connect the master to the slave").
    func quickStart(before stop: String) async throws {
        let quick = try QuickStart.parse(try TwoHostTests.readme())
        for block in quick.blocks where block.place != .build {
            if block.step.hasPrefix(stop) { return }
            if block.lines.joined().contains("/tmp/master_key.pub") { try copyKey() }
            try await run(block)
        }
    }

    /// Appends `lines` to a file inside `host`'s HOME (a config, pg_hba.conf), as an editor would.
    func append(_ lines: String, to path: String, on host: Host) throws {
        let file = outside(path, on: host)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try (text + lines).write(toFile: file, atomically: false, encoding: .utf8)
    }

    /// The master's pg_hba.conf, seen from the test process.
    var masterHBA: String { outside("\(dataDir)/pg_hba.conf", on: master) }

    /// The names in a directory inside `host`'s HOME, sorted (none when it is missing).
    func names(in path: String, on host: Host) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: outside(path, on: host))) ?? [])
            .sorted()
    }
}

extension ProcessResult {
    /// stdout and the stderr tail together, for matching a message wherever it was printed.
    var text: String { output + stderrTail }
}
