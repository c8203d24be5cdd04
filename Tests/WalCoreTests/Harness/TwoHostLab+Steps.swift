import Foundation
import Testing
import WalCore

/// The steps tests beyond the Quick start build on: the README's own blocks up to a step,
/// walmgr on either host, and config lines added the way a user edits a file.
extension TwoHostLab {
    /// The generated configs, as the README names them (inside each host's HOME).
    static let masterIni = "\(configDir)/wal-master.ini"
    static let slaveIni = "\(configDir)/wal-slave.ini"

    /// Runs the README's Quick start blocks in order until the first block of the step whose
    /// title starts with `stop` (e.g. "6." stops after "5. Connect the master to the slave":
    /// configs from `--init-master`/`--init-slave`, `setup --hba`, the restart, `check --archive`).
    func quickStart(before stop: String) async throws {
        let quick = try QuickStart.parse(try TwoHostTests.readme())
        for block in quick.blocks where block.place != .build {
            if block.step.hasPrefix(stop) { return }
            if block.lines.joined().contains("/tmp/master_key.pub") { try copyMasterKey() }
            try await run(block)
        }
    }

    /// The README's prose step: copy the master's public key to the slave.
    func copyMasterKey() throws {
        let pub = "\(master.homeDir)/.ssh/id_ed25519.pub"
        let target = "\(slave.homeDir)/tmp/master_key.pub"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: pub, toPath: target)
        try TestEnv.chownToRunAsUser(target, mode: 0o644)
    }

    /// `walmgr ARGS` on a host: exit status and stdout + stderr together.
    func walmgr(_ host: Host, _ args: [String]) async throws -> (ok: Bool, text: String) {
        let result = try await host.run(["walmgr"] + args, timeout: .seconds(120))
        return (result.succeeded, result.output + result.stderrTail)
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

extension TwoHostLab {
    /// Sets `key = value` in a config inside `host`'s HOME: the key's line is replaced where
    /// the generated file has one (as a user edits it), else the line is appended.
    func set(_ key: String, _ value: String, in ini: String, on host: Host) throws {
        let file = outside(ini, on: host)
        var lines = try String(contentsOfFile: file, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let line = "\(key) = \(value)"
        if let index = lines.firstIndex(where: {
            $0.split(separator: "=").first?.trimmingCharacters(in: .whitespaces) == key
        }) {
            lines[index] = line
        } else {
            lines.insert(line, at: lines.last == "" ? lines.count - 1 : lines.count)
        }
        try lines.joined(separator: "\n").write(toFile: file, atomically: false, encoding: .utf8)
    }
}
