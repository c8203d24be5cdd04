import Foundation
import Testing

@testable import WalCore

/// Hostile hosts in a master config (`slave`, the host of a `host:path`, a `--set`) reach ssh as
/// an option nowhere: the built binary refuses each at load with `file:line`, and the canary
/// command they carry (`-oProxyCommand=touch …`) never runs. No server needed.
@Suite(.serialized) struct FaultHostileConfigTests {
    static let segment = "000000010000000000000003"

    /// `[walmgr]` lines (or `--set` values) that would run `touch` through ssh's ProxyCommand
    /// if their host were read as an option. A `host:path` host cannot hold a `/`, so those
    /// touch a relative name, which lands in walmgr's working directory.
    static func hostile(canary: String, relative: String) -> [(line: String?, set: String?)] {
        [
            ("slave = -oProxyCommand=touch \(canary)", nil),
            ("slave = -oProxyCommand=touch \(relative):/srv/wal", nil),
            ("walmgr_data = -oProxyCommand=touch \(relative):/srv/wal", nil),
            ("completed_wals = -oProxyCommand=touch \(relative):/srv/wal", nil),
            (nil, "slave=-oProxyCommand=touch \(canary)"),
        ]
    }

    @Test func hostileConfigHostRunsNoCanary() async throws {
        let scratch = try TestEnv.scratchDir(prefix: "wmc")
        defer { TestEnv.removeScratch(scratch) }
        let walmgr = try TestEnv.walmgrBinary(in: scratch)
        let canary = "/tmp/wm-pwned-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(canary) }
        let relative = "pwned-\(UInt32.random(in: 0...UInt32.max))"
        let cwd = "\(scratch)/cwd"
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(cwd, mode: 0o777)
        let source = "\(scratch)/segment"
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: source))
        try TestEnv.chownToRunAsUser(source, mode: 0o644)
        for (index, value) in Self.hostile(canary: canary, relative: relative).enumerated() {
            let ini = try writeMaster(scratch, index: index, line: value.line)
            let sets = value.set.map { ["--set", $0] } ?? []
            let argv = sets + [ini, "xarchive", source, Self.segment]
            let result = try RawSpawn.run(([walmgr] + argv).map { Array($0.utf8) }, cwd: cwd)
            let shown = value.line ?? value.set ?? ""
            #expect(result.status == 1, "\(shown): status \(result.status), \(result.stderr)")
            let place = value.set == nil ? "\(ini):5:" : "\(ini) (--set):"
            #expect(
                result.stderr.contains("\(place) ") && result.stderr.contains("names the ssh host"),
                "\(shown): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: canary), "a hostile slave ran a command")
        let created = try FileManager.default.contentsOfDirectory(atPath: cwd)
        #expect(created.isEmpty, "a hostile host:path ran a command: \(created)")
    }

    /// A real rsync over a real sshd, as a backup's config-file copy runs it: an `ssh_options`
    /// word with `'`, `"` and a space reaches ssh intact through `-e`, and a destination path
    /// with `'`, a space and `$(touch …)` arrives literally (`-s`), running nothing.
    @Test(.enabled(if: SSHD.isAvailable)) func rsyncKeepsOptionsAndPathsIntact() async throws {
        try await withSSHD { sshd in
            let scratch = try TestEnv.scratchDir(prefix: "wmr")
            defer { TestEnv.removeScratch(scratch) }
            // ssh itself parses -o values with quotes, so the odd word is -i's key path.
            let keys = "\(scratch)/it's \"the\" keys"
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(keys, mode: 0o755)
            try FileManager.default.copyItem(atPath: sshd.clientKey, toPath: "\(keys)/key")
            try TestEnv.chownToRunAsUser("\(keys)/key", mode: 0o600)
            let options = sshd.sshOptions.map { $0 == sshd.clientKey ? "\(keys)/key" : $0 }
            #expect(options.contains("\(keys)/key"))
            let canary = "/tmp/wm-pwned-\(UInt32.random(in: 0...UInt32.max))"
            defer { unlink(canary) }
            let dest = "\(scratch)/it's a $(touch \(canary)) dir"
            try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(dest, mode: 0o755)
            let file = "\(scratch)/postgresql.conf"
            try TestEnv.writeOwned(file, "port = 5432\n")

            let ssh = SSH(host: "\(sshd.user)@\(sshd.host)", options: options, controlDir: nil)
            var rsync = BackupCopy.rsyncFiles(
                [file], destination: .remote(host: ssh.host, path: dest), ssh: ssh,
                compress: false)
            rsync.user = TestEnv.runAsUser
            let result = try await TestEnv.runner.run(rsync)
            #expect(result.succeeded, "\(rsync): \(result.stderrTail)")
            let copied = try? String(contentsOfFile: "\(dest)/postgresql.conf", encoding: .utf8)
            #expect(copied == "port = 5432\n")
            #expect(!FileManager.default.fileExists(atPath: canary), "the remote shell ran it")
        }
    }

    /// A master ini whose fifth line is `line`; walmgr_data is local unless `line` sets it.
    func writeMaster(_ scratch: String, index: Int, line: String?) throws -> String {
        let data = "walmgr_data = \(scratch)/walshipping"
        let path = "\(scratch)/wal-master-\(index).ini"
        let fifth = line ?? data
        let sixth = fifth.hasPrefix("walmgr_data") ? "job_name = hostile" : data
        try """
        [walmgr]
        master_data = \(scratch)/nodata
        slave_config = /etc/walmgr/wal-slave.ini
        ssh_options = -o ConnectTimeout=2
        \(fifth)
        \(sixth)

        """.write(toFile: path, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(path, mode: 0o644)
        return path
    }
}
