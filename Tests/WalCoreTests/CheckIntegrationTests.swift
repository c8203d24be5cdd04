import Foundation
import Testing

@testable import WalCore

/// `check` on real servers: a healthy master (with the archive round trip), a wrong
/// archive_command, a root-owned logs.complete, ssh failures, and a healthy standby.
@Suite(.serialized) struct CheckIntegrationTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func masterHealthyThenBroken(binDir: String) async throws {
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await pair.setupAndRestart()
        let healthy = try await pair.run([pair.masterIni, "check", "--archive"])
        #expect(healthy.status == 0, "\(healthy.output)\n\(healthy.stderrTail)")
        #expect(healthy.output.contains("OK   archive round trip: "))
        #expect(healthy.output.contains("OK   slave: local slave (no ssh): walmgr"))

        try await pair.master.psql("ALTER SYSTEM SET archive_command = '/bin/true'")
        try await setting(pair.master, "archive_command", becomes: "/bin/true")
        let wrong = try await pair.run([pair.masterIni, "check"])
        #expect(wrong.status == 1)
        #expect(
            wrong.output.contains(
                "FAIL archive_command: archive_command = '/bin/true' does not run walmgr "
                    + "xarchive %p %f; fix: walmgr \(pair.masterIni) setup"), "\(wrong.output)")
        try await pair.master.psql("ALTER SYSTEM RESET archive_command")
        try await setting(pair.master, "archive_command", becomes: nil)
        try await rootOwnedArchive(pair)
    }

    /// logs.complete owned by root with mode 0755 while walmgr runs as postgres.
    func rootOwnedArchive(_ pair: WalmgrPair) async throws {
        guard TestEnv.isRoot, let user = TestEnv.runAsUser else {
            print("skipped the root-owned logs.complete case: it needs root to chown")
            return
        }
        let dir = pair.completedWals
        #expect(chown(dir, 0, 0) == 0 && chmod(dir, 0o755) == 0)
        defer { _ = try? TestEnv.chownToRunAsUser(dir, mode: 0o700) }
        let slave = try await pair.run([pair.slaveIni, "check"])
        #expect(slave.status == 1)
        let line =
            slave.output.split(separator: "\n")
            .first { $0.hasPrefix("FAIL completed_wals writable") }.map(String.init) ?? ""
        #expect(
            line.contains(
                "\(dir) is root:root 0755, not writable by \(user) (walmgr runs as \(user))"),
            "\(slave.output)")
        #expect(line.contains("fix: chown -R \(user):"), "\(line)")
        #expect(line.contains(" \(dir)"))
        let master = try await pair.run([pair.masterIni, "check"])
        #expect(master.status == 1)
        #expect(
            master.output.contains(
                "FAIL slave completed_wals: on localhost: \(dir) is root:root 0755"),
            "\(master.output)")
    }

    @Test(.enabled(if: SSHD.isAvailable))
    func sshFailuresAndSuccess() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(binDir: binDir, sshd: sshd)
            defer { pair.destroy() }
            try await pair.setupAndRestart()
            let fresh = ["--set", "ssh_reuse_connection=0"]
            let good = try await pair.run(fresh + [pair.masterIni, "check"])
            #expect(good.status == 0, "\(good.output)\n\(good.stderrTail)")
            #expect(
                good.output.contains(
                    "OK   slave: ssh to \(sshd.user)@\(sshd.host) with host key checking"))

            let closed = try TestEnv.freePort()
            let unreachable = try await pair.run(
                fresh + [
                    "--set",
                    "ssh_options=\(options(sshd, port: closed, knownHosts: sshd.knownHosts))",
                    pair.masterIni, "check",
                ])
            #expect(unreachable.status == 1)
            #expect(unreachable.output.contains("FAIL slave: ssh to"), "\(unreachable.output)")
            #expect(unreachable.output.contains("Connection refused"))
            #expect(unreachable.output.contains("Is sshd running on"))

            let otherHosts = try await foreignKnownHosts(sshd, pair: pair)
            let badKey = try await pair.run(
                fresh + [
                    "--set",
                    "ssh_options=\(options(sshd, port: sshd.port, knownHosts: otherHosts))",
                    pair.masterIni, "check",
                ])
            #expect(badKey.status == 1)
            #expect(badKey.output.contains("Host key verification failed"), "\(badKey.output)")
            #expect(badKey.output.contains("The host key of"))
            #expect(badKey.output.contains("walmgr never disables host key checking"))
        }
    }

    /// A slave without walmgr, or with one of another version (here: one that knows none of
    /// the helpers, as an older walmgr does not know a newer helper), is named with its fix,
    /// over real ssh: the slave's "unknown command" line must survive the last-20-lines tail.
    @Test(.enabled(if: SSHD.isAvailable))
    func aMissingOrOtherSlaveWalmgrIsNamed() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        try await withSSHD { sshd in
            let pair = try await WalmgrPair(binDir: binDir, sshd: sshd)
            defer { pair.destroy() }
            let missing = try await pair.run(
                ["--set", "slave_walmgr=\(pair.scratch)/nowhere/walmgr", pair.masterIni, "backup"])
            #expect(missing.status == 1)
            #expect(missing.stderrTail.contains("failed (exit 127) running xlock"), "\(missing)")
            #expect(missing.stderrTail.contains("install walmgr \(Walmgr.version) on"))
            #expect(missing.stderrTail.contains("set slave_walmgr"))

            // The real walmgr, given each helper's name with a prefix it does not know.
            let other = "\(pair.scratch)/other-walmgr"
            try TestEnv.writeOwned(
                other,
                "#!/bin/sh\nconfig=$1; command=$2; shift 2\n"
                    + "exec \(ShellWords.quote(pair.walmgr)) \"$config\" \"old-$command\" \"$@\"\n")
            try TestEnv.chownToRunAsUser(other, mode: 0o755)
            let set = ["--set", "slave_walmgr=\(other)", "--set", "ssh_reuse_connection=0"]
            let backup = try await pair.run(set + [pair.masterIni, "backup"])
            #expect(backup.status == 1)
            #expect(backup.stderrTail.contains("unknown command \"old-xlock\""), "\(backup)")
            #expect(backup.stderrTail.contains("different walmgr versions"))
            let check = try await pair.run(set + [pair.masterIni, "check"])
            #expect(
                check.output.contains("FAIL slave walmgr: the walmgr on \(sshd.user)@\(sshd.host)"),
                "\(check.output)")
        }
    }

    @Test(arguments: TestEnv.pgBinDirs)
    func healthyStandby(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        try await lab.makeBackup()
        let restore = try await lab.walmgr(["restore"])
        _ = lab.attachStandby()
        try #require(restore.succeeded, "restore: \(restore.stderrTail)")
        let check = try await lab.walmgr(["check"])
        #expect(check.status == 0, "\(check.output)\n\(check.stderrTail)")
        #expect(check.output.contains("OK   recovery settings: standby.signal"))
        #expect(check.output.contains("OK   WAL after backup: contiguous from"))
        #expect(check.output.contains("in recovery (standby)"))
    }

    // MARK: - helpers

    /// `check --archive` stops waiting as soon as the segment cannot arrive: at once when the
    /// slave's logs.complete is root-owned (xspace already knows), and on xarchive's first
    /// failure (pg_stat_archiver) when archiving is paused; never the full 60 s.
    @Test(.enabled(if: TestEnv.isRoot)) func archiveRoundTripGivesUpAtOnce() async throws {
        let binDir = try #require(TestEnv.defaultBinDir)
        let pair = try await WalmgrPair(binDir: binDir)
        defer { pair.destroy() }
        try await pair.setupAndRestart()
        let dir = pair.completedWals
        #expect(chown(dir, 0, 0) == 0 && chmod(dir, 0o755) == 0)
        var started = ContinuousClock.now
        let blocked = try await pair.run([pair.masterIni, "check", "--archive"])
        #expect(blocked.status == 1)
        #expect(
            blocked.output.contains(
                "FAIL archive round trip: not tried: xarchive cannot write the slave's "
                    + "completed_wals: \(dir) is root:root 0755"), "\(blocked.output)")
        #expect(ContinuousClock.now - started < .seconds(30))
        try TestEnv.chownToRunAsUser(dir, mode: 0o700)

        let stop = try await pair.run([pair.masterIni, "stop"])
        #expect(stop.succeeded, "\(stop.stderrTail)")
        started = ContinuousClock.now
        let paused = try await pair.run([pair.masterIni, "check", "--archive"])
        #expect(paused.status == 1)
        #expect(
            paused.output.contains("FAIL archive round trip: xarchive failed on "),
            "\(paused.output)")
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    func setting(_ cluster: PGCluster, _ name: String, becomes value: String?) async throws {
        try await cluster.psql("SELECT pg_reload_conf()")
        try await waitUntil("\(name) is reloaded", timeout: .seconds(60)) {
            let now = try await cluster.psql("SHOW \(name)")
            return value.map { now == $0 } ?? (now != "/bin/true")
        }
    }

    func options(_ sshd: SSHD, port: Int, knownHosts: String) -> String {
        [
            "-F", "/dev/null", "-p", "\(port)", "-i", sshd.clientKey, "-o", "IdentitiesOnly=yes",
            "-o", "UserKnownHostsFile=\(knownHosts)",
        ].map(ShellWords.quote).joined(separator: " ")
    }

    /// A known_hosts that names another key for the sshd's address.
    func foreignKnownHosts(_ sshd: SSHD, pair: WalmgrPair) async throws -> String {
        let key = "\(pair.scratch)/other_host_key"
        try await TestEnv.run(
            Command("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]))
        let pub = try String(contentsOfFile: "\(key).pub", encoding: .utf8)
        let words = pub.split(separator: " ").prefix(2).joined(separator: " ")
        let path = "\(pair.scratch)/other_known_hosts"
        try "[\(sshd.host)]:\(sshd.port) \(words)\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(path, mode: 0o644)
        return path
    }
}
