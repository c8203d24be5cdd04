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
            // `receive -d` and `receive -s`, as the docs give them, need it.
            #expect(slave.common.pidfile == "\(dir)/wal-slave.pid")
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

    @Test func dryRunMasksThePasswordOfPrimaryConninfo() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let dir = "\(home)/conf"
        let result = try await run([
            "--init-slave", "-n", "--config-dir", dir,
            "--primary-conninfo", "host=m user=r password=s3cret",
        ])
        #expect(result.succeeded, "\(result.stderrTail)")
        let all = result.output + result.stderrTail
        #expect(!all.contains("s3cret"), "\(all)")
        #expect(all.contains("primary_conninfo     = host=m user=r password=********"), "\(all)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/wal-slave.ini"))
    }

    @Test func lineBreaksInIniValuesAreRefusedAndNothingIsWritten() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let dir = "\(home)/conf"
        let cases: [[String]] = [
            ["--init-slave", "--pgdata", "/srv/pg\nrestore_command = evil"],
            ["--init-master", "--slave", "standby", "--pgdata", "/srv/pg\nslave = evil"],
            ["--init-master", "--slave", "standby\nmaster_db = x"],
            ["--init-slave", "--primary-conninfo", "host=m password=s3cret\nx = y"],
        ]
        for arguments in cases {
            let result = try await run(arguments + ["--config-dir", dir])
            #expect(result.status == 64, "\(arguments): \(result.stderrTail)")
            #expect(!result.stderrTail.contains("s3cret"))
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/wal-slave.ini"))
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/wal-master.ini"))
        }
    }

    @Test func initSlaveAgainAddsAKeyThenAPasswordAndLeavesTheIniAlone() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let dir = "\(home)/conf"
        let ini = "\(dir)/wal-slave.ini"
        let first = try await run(["--init-slave", "--config-dir", dir])
        #expect(first.succeeded, "without a key: \(first.stderrTail)")
        let written = try Data(contentsOf: URL(fileURLWithPath: ini))

        let key = "\(home)/master.pub"
        try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests walmgr\n"
            .write(toFile: key, atomically: true, encoding: .utf8)
        let withKey = try await run(["--init-slave", "--config-dir", dir, "--ssh-add-key", key])
        #expect(withKey.succeeded, "\(withKey.stderrTail)")
        let keys = try String(contentsOfFile: "\(home)/.ssh/authorized_keys", encoding: .utf8)
        #expect(keys.contains("FakeKeyForTests"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: ini)) == written)

        let password = "\(home)/pgpass-line"
        try "master:5432:replication:postgres:s3cret\n"
            .write(toFile: password, atomically: true, encoding: .utf8)
        let withPassword = try await run([
            "--init-slave", "--config-dir", dir, "--add-password", password,
        ])
        #expect(withPassword.succeeded, "\(withPassword.stderrTail)")
        var st = stat()
        #expect(stat("\(home)/.pgpass", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: ini)) == written)
        let record = try String(
            contentsOfFile: "\(home)/walshipping/\(Initializer.recordName)", encoding: .utf8)
        #expect(record.contains("authorized_keys\t") && record.contains("pgpass\t"))

        let plainAgain = try await run(["--init-slave", "--config-dir", dir])
        #expect(plainAgain.status == 1 && plainAgain.stderrTail.contains("already exists"))
    }

    @Test func aBadKeyFileLeavesNoIni() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let dir = "\(home)/conf"
        let key = "\(home)/not-a-key"
        try "hello\n".write(toFile: key, atomically: true, encoding: .utf8)
        let result = try await run(["--init-slave", "--config-dir", dir, "--ssh-add-key", key])
        #expect(!result.succeeded)
        #expect(result.stderrTail.contains("does not hold one ssh public key line"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/wal-slave.ini"))
        let missing = try await run([
            "--init-slave", "--config-dir", dir, "--add-password", "\(home)/nope",
        ])
        #expect(!missing.succeeded)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/wal-slave.ini"))

        // A step after the ini fails (~/.ssh is a file): the ini written just before goes again.
        let goodKey = "\(home)/master.pub"
        try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests walmgr\n"
            .write(toFile: goodKey, atomically: true, encoding: .utf8)
        try "not a dir".write(toFile: "\(home)/.ssh", atomically: true, encoding: .utf8)
        let late = try await run(["--init-slave", "--config-dir", dir, "--ssh-add-key", goodKey])
        #expect(!late.succeeded)
        #expect(late.stderrTail.contains("\(home)/.ssh"), "\(late.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/wal-slave.ini"))
    }

    /// A config dir under a root-owned parent (like /etc) while walmgr runs as postgres.
    @Test(.enabled(if: TestEnv.isRoot)) func rootOwnedParentGetsMkdirAndChownOfTheDirOnly()
        async throws
    {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let scratch = try TestEnv.scratchDir(prefix: "wmi")
        defer { TestEnv.removeScratch(scratch) }
        let binary = try TestEnv.walmgrBinary(in: scratch)
        let parent = "\(scratch)/etc"
        #expect(mkdir(parent, 0o755) == 0 && chown(parent, 0, 0) == 0)
        let user = try #require(TestEnv.runAsUser)
        let dir = "\(parent)/walmgr"
        let result = try await TestEnv.runner.run(
            Command(
                binary, ["--init-slave", "--config-dir", dir],
                environment: ["HOME": scratch], workingDirectory: scratch, user: user),
            input: .none, timeout: .seconds(30))
        #expect(!result.succeeded)
        #expect(
            result.stderrTail.contains("mkdir -p \(dir) && chown \(user): \(dir) (as root)"),
            "\(result.stderrTail)")
        #expect(!result.stderrTail.contains("chown -R"), "\(result.stderrTail)")
    }
}
