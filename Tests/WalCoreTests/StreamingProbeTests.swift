import Foundation
import Testing

@testable import WalCore

/// The standby's own replication connection: check and status name why streaming fails, and
/// setup's pg_hba check uses the user the standby really connects as.
@Suite struct StreamingProbeTests {
    @Test(arguments: [
        ("FATAL:  password authentication failed for user \"replicator\"", "authentication failed"),
        ("fe_sendauth: no password supplied", "authentication failed"),
        (
            "FATAL:  no pg_hba.conf entry for replication connection from host \"10.0.0.2\", "
                + "user \"replicator\", no encryption", "no pg_hba entry"
        ),
        (
            "connection to server at \"10.0.0.1\", port 5432 failed: Connection refused",
            "unreachable"
        ),
        ("connection to server at \"10.0.0.1\", port 5432 failed: timeout expired", "unreachable"),
        ("FATAL:  must have replication permission to start walsender", "not a replication role"),
    ])
    func classifiesLibpqMessages(message: String, cause: String) {
        #expect(ReplicationProbe.classify(message, at: "m:5432").cause == cause)
    }

    @Test func asksForAReplicationConnectionWithABoundedWait() {
        #expect(
            ReplicationProbe.conninfo("host=m user=r")
                == "host=m user=r connect_timeout=5 dbname=replication replication=true")
        #expect(
            ReplicationProbe.conninfo("host=m connect_timeout=2")
                == "host=m connect_timeout=2 dbname=replication replication=true")
        #expect(
            ReplicationProbe.conninfo("postgresql://r@m/db?sslmode=prefer")
                == "postgresql://r@m/db?sslmode=prefer&connect_timeout=5&dbname=replication"
                + "&replication=true")
    }

    @Test func theHBACheckUsesTheSlavesUserWhenTheMasterIniNamesNone() async throws {
        let text = "[walmgr]\nmaster_data = /pg\nslave = 10.0.0.2\nslave_config = /s.ini\n"
        let config = try ConfigFixture.master(text)
        let runner = TestEnv.runner
        let fromSlave = try await HBAProbe.expectedClient(
            config, runner: runner, slaveUser: "replicator")
        #expect(fromSlave?.user == "replicator")
        #expect(try await HBAProbe.expectedClient(config, runner: runner)?.user == "postgres")
        let named = try ConfigFixture.master(text + "replication_user = rep2\n")
        let fromIni = try await HBAProbe.expectedClient(
            named, runner: runner, slaveUser: "replicator")
        #expect(fromIni?.user == "rep2")
    }

    /// A master with a scram `replicator`; the slave's check with a wrong password, an unknown
    /// user and a closed port names each cause (and never prints the password); xstreamuser
    /// prints the user; a streaming standby whose master stops is reported as not streaming.
    @Test(arguments: TestEnv.pgBinDirs)
    func checkAndStatusNameTheCause(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: true)
        defer { lab.destroy() }
        let master = lab.master
        try await master.psql(
            "SET password_encryption = 'scram-sha-256'; "
                + "CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'right-pw'")
        try TestEnv.writeOwned(
            "\(master.dataDir)/pg_hba.conf",
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
                + "host replication postgres 127.0.0.1/32 trust\n"
                + "host replication replicator 127.0.0.1/32 scram-sha-256\n")
        try await master.psql("SELECT pg_reload_conf()")
        let ini = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        func check(_ conninfo: String) async throws -> String {
            try TestEnv.writeOwned(lab.slaveIni, ini + "primary_conninfo = \(conninfo)\n")
            let result = try await lab.walmgr(["check"])
            #expect(!result.output.contains("wrong-pw") && !result.stderrTail.contains("wrong-pw"))
            return result.output.split(separator: "\n")
                .first { $0.contains("streaming connection") }.map(String.init) ?? result.output
        }
        let good = try await check(
            "host=127.0.0.1 port=\(master.port) user=replicator password=right-pw")
        #expect(good.hasPrefix("OK   streaming connection"), "\(good)")
        let wrong = try await check(
            "host=127.0.0.1 port=\(master.port) user=replicator password=wrong-pw")
        #expect(wrong.hasPrefix("FAIL") && wrong.contains("authentication failed"), "\(wrong)")
        let nohba = try await check("host=127.0.0.1 port=\(master.port) user=nobody")
        #expect(nohba.contains("no line for a replication connection"), "\(nohba)")
        let closed = try await check("host=127.0.0.1 port=\(try TestEnv.freePort()) user=r")
        #expect(closed.contains("the master is unreachable"), "\(closed)")
        let user = try await lab.walmgr(["xstreamuser"])
        #expect(user.output == "r\n")

        try TestEnv.writeOwned(lab.slaveIni, ini)
        try await lab.makeBackup()
        let standby = try await lab.restoreStandby()
        try await waitUntil("the standby streams") {
            try await standby.psql(
                "SELECT count(*) FROM pg_stat_wal_receiver "
                    + "WHERE status = 'streaming'") == "1"
        }
        master.stop()
        try await waitUntil("status names the stopped master") {
            let status = try await lab.walmgr(["status", "--json"])
            return status.output.contains("\"streaming_cause\" : \"unreachable\"")
                || status.output.contains("\"streaming_cause\":\"unreachable\"")
        }
        let status = try await lab.walmgr(["status", "--json"])
        #expect(status.status == 1 && status.output.contains("the master is unreachable"))
    }
}
