import Foundation
import Testing

@testable import WalCore

/// `--init-master` / `--init-slave` through the built binary, with a private HOME.
@Suite struct InitTests {
    let home: String
    let walmgr: String

    init() throws {
        home = NSTemporaryDirectory() + "walmgr-init-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        walmgr = try #require(TestEnv.builtWalmgr(), "build walmgr first")
    }

    func run(_ arguments: [String]) async throws -> ProcessResult {
        try await TestEnv.runner.run(
            Command(walmgr, arguments, environment: ["HOME": home]), input: .none,
            timeout: .seconds(30))
    }

    @Test func initMasterWritesALoadableConfigOnceAndNeedsASlave() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let dir = "\(home)/conf"
        let first = try await run([
            "--init-master", "--slave", "standby.example.com", "--config-dir", dir,
            "--pgdata", "/srv/pg/main",
        ])
        #expect(first.succeeded, "\(first.stderrTail)")
        let loaded = try ConfigLoader.load(path: "\(dir)/wal-master.ini", overrides: [])
        let master = try #require(loaded.config.master)
        #expect(master.slave == "standby.example.com")
        #expect(master.masterData == "/srv/pg/main")
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")

        let again = try await run(["--init-master", "--slave", "x", "--config-dir", dir])
        #expect(again.status == 1)
        #expect(again.stderrTail.contains("already exists"))
        let noSlave = try await run(["--init-master", "--config-dir", "\(home)/other"])
        #expect(noSlave.status == 64)
    }

    @Test func initSlaveAddsKeyAndPasswordOnceAndRecordsThem() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let key = "\(home)/master.pub"
        try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests walmgr\n"
            .write(toFile: key, atomically: true, encoding: .utf8)
        let password = "\(home)/pgpass-line"
        try "master.example.com:5432:replication:postgres:s3cret\n"
            .write(toFile: password, atomically: true, encoding: .utf8)
        for dir in ["\(home)/conf1", "\(home)/conf2"] {
            let result = try await run([
                "--init-slave", "--config-dir", dir, "--ssh-add-key", key, "--add-password",
                password, "--primary-conninfo", "host=master.example.com user=postgres",
            ])
            #expect(result.succeeded, "\(result.stderrTail)")
            #expect(!result.stderrTail.contains("s3cret"))
            let slave = try #require(
                try ConfigLoader.load(path: "\(dir)/wal-slave.ini", overrides: []).config.slave)
            #expect(slave.common.primaryConninfo == "host=master.example.com user=postgres")
        }
        let keys = try String(contentsOfFile: "\(home)/.ssh/authorized_keys", encoding: .utf8)
        #expect(keys.components(separatedBy: "FakeKeyForTests").count == 2, "added once")
        var st = stat()
        #expect(stat("\(home)/.pgpass", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let pgpass = try String(contentsOfFile: "\(home)/.pgpass", encoding: .utf8)
        #expect(pgpass.components(separatedBy: "s3cret").count == 2, "added once")
        let record = try String(
            contentsOfFile: "\(home)/walshipping/\(Initializer.recordName)", encoding: .utf8)
        #expect(record.hasPrefix("authorized_keys\t"))
        #expect(record.contains("\npgpass\t"))
    }
}
