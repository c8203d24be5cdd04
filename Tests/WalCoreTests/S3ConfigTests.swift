import Foundation
import Testing

@testable import WalCore

/// s3:// URLs, the s3_* keys and where credentials come from; the secret never shows.
@Suite struct S3ConfigTests {
    @Test func repositoryURL() throws {
        let repo = try #require(try S3Repository("s3://wal-bucket/prod//db1/"))
        #expect(repo.bucket == "wal-bucket" && repo.prefix == "prod/db1")
        #expect(repo.key("000000010000000000000001") == "prod/db1/000000010000000000000001")
        #expect(try S3Repository("/var/lib/walmgr/logs.complete") == nil)
        #expect(try #require(try S3Repository("s3://bucket")).key("x") == "x")
        #expect(throws: S3Error.self) { try S3Repository("s3://Bad_Bucket/x") }
        #expect(throws: S3Error.self) { try S3Repository("s3://") }
    }

    @Test func keysLoadFromTheIni() throws {
        let dir = try TestEnv.scratchDir(prefix: "wms3c")
        defer { TestEnv.removeScratch(dir) }
        let ini = "\(dir)/wal-slave.ini"
        try """
        [walmgr]
        slave_data = /tmp/x
        completed_wals = s3://bucket/prefix
        s3_endpoint = http://127.0.0.1:7480/
        s3_region = eu-central-1
        s3_uri_style = host
        s3_ca_file = ~/ca.pem
        s3_credentials_file = /etc/walmgr/s3.credentials
        s3_profile = walmgr
        """.write(toFile: ini, atomically: true, encoding: .utf8)
        let loaded = try ConfigLoader.load(path: ini, overrides: [])
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let config = loaded.config
        let s3 = config.common.s3
        #expect(config.common.completedWals == "s3://bucket/prefix")
        #expect(s3.resolvedEndpoint == "http://127.0.0.1:7480" && s3.region == "eu-central-1")
        #expect(s3.uriStyle == .host && s3.profile == "walmgr")
        #expect(s3.caFile == NSHomeDirectory() + "/ca.pem")
        #expect(s3.credentialsFile == "/etc/walmgr/s3.credentials")
        #expect(
            S3Settings(region: "eu-west-1").resolvedEndpoint == "https://s3.eu-west-1.amazonaws.com"
        )
    }

    @Test func credentialSourcesInOrder() throws {
        let dir = try TestEnv.scratchDir(prefix: "wms3k")
        defer { TestEnv.removeScratch(dir) }
        let file = "\(dir)/creds"
        try "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n[walmgr]\n"
            .appending("aws_access_key_id = PROFKEY\naws_secret_access_key = profsecret\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        chown(file, geteuid(), getegid())
        chmod(file, 0o600)
        let env = ["AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret"]
        let fromIni = try S3Credentials.resolve(
            S3Settings(credentialsFile: file, profile: "walmgr"), environment: env, home: dir)
        #expect(fromIni.accessKeyId == "PROFKEY" && fromIni.secret == "profsecret")
        let fromEnv = try S3Credentials.resolve(S3Settings(), environment: env, home: dir)
        #expect(fromEnv.accessKeyId == "ENVKEY")
        let shared = try S3Credentials.resolve(
            S3Settings(), environment: ["AWS_SHARED_CREDENTIALS_FILE": file], home: dir)
        #expect(shared.accessKeyId == "FILEKEY")
        #expect(!"\(fromIni)".contains("profsecret") && "\(fromIni)".contains("PROFKEY"))
        #expect(throws: S3Error.self) {
            try S3Credentials.resolve(S3Settings(), environment: [:], home: dir)
        }
    }

    @Test func credentialsFileReadableByOthersIsRefused() throws {
        let dir = try TestEnv.scratchDir(prefix: "wms3m")
        defer { TestEnv.removeScratch(dir) }
        let file = "\(dir)/creds"
        try "aws_access_key_id = K\naws_secret_access_key = topsecret\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        chown(file, geteuid(), getegid())
        chmod(file, 0o644)
        let error = #expect(throws: S3Error.self) {
            try S3Credentials.resolve(S3Settings(credentialsFile: file), environment: [:])
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("mode 0644") && text.contains("chmod 600 \(file)"), "\(text)")
        #expect(!text.contains("topsecret"))
    }
}

/// `receive` with completed_wals in a bucket: refused before any connection, naming the key.
@Suite struct S3ReceiveRefusalTests {
    @Test func receiveRefusesAnS3Archive() async throws {
        let dir = try TestEnv.scratchDir(prefix: "wms3r")
        defer { TestEnv.removeScratch(dir) }
        let ini = "\(dir)/wal-slave.ini"
        try """
        [walmgr]
        slave_data = \(dir)/data
        completed_wals = s3://bucket/wal
        partial_wals = \(dir)/partial
        receive_conninfo = host=127.0.0.1 port=1 user=replicator
        """.write(toFile: ini, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: ini, overrides: []).config
        let context = CommandContext(
            config: config, log: Log(quiet: true), runner: SubprocessRunner(), notReally: false,
            arguments: [], flags: [],
            invocation: Invocation(configPath: ini, command: "receive", arguments: []))
        await #expect(
            throws: ReceiveError.s3Archive(completedWals: "s3://bucket/wal", configFile: ini)
        ) { try await ReceiveCommand.run(context) }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/partial"), "nothing created")
        let text = ReceiveError.s3Archive(completedWals: "s3://b/w", configFile: ini).description
        #expect(text.contains("completed_wals = s3://b/w") && text.contains("xarchive"))
        let report = CheckReport(printer: nil)
        SlaveCheck(config: try #require(config.slave), context: context, report: report)
            .receiverArchive()
        let refusal = ReceiveError.s3Archive(completedWals: "s3://bucket/wal", configFile: ini)
        #expect(
            report.results == [.fail("receive", "\(refusal)")],
            "check says what receive would refuse")
    }

    /// A streaming standby with an S3 archive and no `receive_*` key runs no receiver: check
    /// has nothing to say about receive.
    @Test func checkIsQuietAboutReceiveWithoutReceiveKeys() throws {
        let ini = "/nonexistent/wal-slave.ini"
        let config = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\ncompleted_wals = s3://bucket/wal\n"
                + "primary_conninfo = host=m user=r\n")
        let context = CommandContext(
            config: .slave(config), log: Log(quiet: true), runner: SubprocessRunner(),
            notReally: false, arguments: [], flags: [],
            invocation: Invocation(configPath: ini, command: "check", arguments: []))
        let report = CheckReport(printer: nil)
        SlaveCheck(config: config, context: context, report: report).receiverArchive()
        #expect(report.results.isEmpty)
    }
}
