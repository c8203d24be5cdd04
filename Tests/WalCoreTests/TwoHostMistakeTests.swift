import Foundation
import Testing
import WalCore

/// Issue 14: mistakes a newcomer makes on two hosts, each with the message that must name it.
/// They run on the lab the Quick start left behind (see ``TwoHostTests``).
struct TwoHostMistakes {
    let lab: TwoHostLab
    var masterIni: String { "\(TwoHostLab.configDir)/wal-master.ini" }
    var slaveIni: String { "\(TwoHostLab.configDir)/wal-slave.ini" }

    /// `walmgr ARGS` on a host: exit status and stdout + stderr together.
    func walmgr(_ host: Host, _ args: [String]) async throws -> (ok: Bool, text: String) {
        let result = try await lab.walmgr(host, args)
        return (result.succeeded, result.text)
    }

    /// Every mistake in turn; each is undone before the next.
    func runAll() async throws {
        let mistakes: [(String, () async throws -> Void)] = [
            ("walmgr_data owned by root", walmgrDataOwnedByRoot),
            ("a typo'd key", typoedKey), ("the link down", linkDown),
            ("a wrong replication password", wrongReplicationPassword),
        ]
        for (name, mistake) in mistakes {
            let started = ContinuousClock.now
            try await mistake()
            lab.record("(suite) mistake: \(name)", since: started)
        }
    }

    /// The slave's walmgr_data owned by root: the master's check names the path and the chown.
    func walmgrDataOwnedByRoot() async throws {
        let dir = "\(Host.home)/walshipping"
        try await lab.slave.root(["/bin/chown", "root:root", dir])
        try await lab.slave.root(["/bin/chmod", "0755", dir])
        let check = try await walmgr(lab.master, [masterIni, "check"])
        try await lab.slave.root(["/bin/chown", "postgres:postgres", dir])
        try await lab.slave.root(["/bin/chmod", "0700", dir])
        #expect(!check.ok, "\(check.text)")
        #expect(check.text.contains(dir) && check.text.contains("chown"), "\(check.text)")
        print("walmgr_data owned by root, master check says:\n\(check.text)")
    }

    /// `keep_backup` for `keep_backups`: check fails and suggests the key (issue 14.6).
    func typoedKey() async throws {
        let file = lab.outside(masterIni, on: lab.master)
        let original = try String(contentsOfFile: file, encoding: .utf8)
        try (original + "keep_backup = 3\n").write(toFile: file, atomically: false, encoding: .utf8)
        let check = try await walmgr(lab.master, [masterIni, "check"])
        try original.write(toFile: file, atomically: false, encoding: .utf8)
        #expect(check.text.contains("keep_backup"), "\(check.text)")
        #expect(!check.ok && check.text.contains("did you mean keep_backups"), "\(check.text)")
    }

    /// The link down: the master's check fails naming ssh and the slave.
    func linkDown() async throws {
        try await lab.net.setLink(up: false)
        let check = try await walmgr(lab.master, [masterIni, "check"])
        try await lab.net.setLink(up: true)
        #expect(!check.ok, "\(check.text)")
        #expect(check.text.contains("standby.example.com"), "\(check.text)")
        print("link down, master check says:\n\(check.text)")
    }

    /// A wrong replication password: the slave's check names the authentication failure
    /// (issue 14.4); the server log has PostgreSQL's own words.
    func wrongReplicationPassword() async throws {
        _ = try await lab.master.psql("ALTER ROLE replicator PASSWORD 'not-the-one-in-pgpass'")
        _ = try await lab.master.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_replication")
        try await waitUntil("the standby stops streaming", timeout: .seconds(30)) {
            try await lab.slave.psql(
                "SELECT count(*) FROM pg_stat_wal_receiver "
                    + "WHERE status = 'streaming'") == "0"
        }
        let check = try await walmgr(lab.slave, [slaveIni, "check"])
        _ = try await lab.master.psql("ALTER ROLE replicator PASSWORD 'change-me'")
        #expect(!check.ok, "\(check.text)")
        #expect(
            check.text.contains("authentication failed for the standby's user replicator")
                && check.text.contains("password authentication failed"), "\(check.text)")
        #expect(!check.text.contains("not-the-one-in-pgpass"), "the password is never printed")
    }
}
