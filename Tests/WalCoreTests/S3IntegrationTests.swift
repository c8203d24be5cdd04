import Foundation
import Testing

@testable import WalCore

/// xarchive/xrestore with completed_wals = s3://… against a real Ceph RADOS Gateway.
@Suite(
    .serialized, .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"), .cephRGW)
struct S3IntegrationTests {
    /// Everything walmgr printed in this suite, for the grep for the secret.
    final class Outputs: @unchecked Sendable {
        var text = ""
    }

    /// A scratch dir with walmgr, a master ini on the lab's bucket, and a segment file.
    struct Bench {
        let scratch: String
        let walmgr: String
        let lab: S3Lab
        let outputs = Outputs()

        init(tag: String) async throws {
            let scratch = try TestEnv.scratchDir(prefix: "wms3")
            self.scratch = scratch
            do {
                walmgr = try TestEnv.walmgrBinary(in: scratch)
                lab = try await S3Lab(scratch: scratch, tag: tag)
            } catch {
                TestEnv.removeScratch(scratch)
                throw error
            }
        }

        /// Writes a master ini (`extra` appended) and returns its path.
        func masterIni(_ name: String, extra: String = "", credentials: String? = nil) throws
            -> String
        {
            let path = "\(scratch)/\(name).ini"
            try TestEnv.writeOwned(
                path,
                "[walmgr]\nmaster_data = \(scratch)\nlogfile = \(scratch)/walmgr.log\n"
                    + lab.iniLines(credentials: credentials) + extra)
            return path
        }

        /// Writes a slave ini (`extra` appended) and returns its path.
        func slaveIni(_ name: String, extra: String = "") throws -> String {
            let path = "\(scratch)/\(name).ini"
            try TestEnv.writeOwned(
                path,
                "[walmgr]\nslave_data = \(scratch)/standby\nlogfile = \(scratch)/walmgr.log\n"
                    + lab.iniLines() + extra)
            return path
        }

        /// Writes a segment file the run-as user can read.
        func segment(_ name: WALName, fill: UInt8) throws -> String {
            let path = "\(scratch)/\(name.name).\(fill)"
            try Data(S3Lab.fakeSegment(name, fill: fill)).write(to: URL(fileURLWithPath: path))
            try TestEnv.chownToRunAsUser(path, mode: 0o600)
            return path
        }

        /// Runs walmgr as the run-as user and keeps its output.
        func run(_ arguments: [String]) async throws -> ProcessResult {
            let result = try await TestEnv.runner.run(
                Command(walmgr, arguments, workingDirectory: scratch, user: TestEnv.runAsUser),
                input: .none, timeout: .seconds(120))
            outputs.text += result.output + result.stderrTail
            return result
        }

        /// The secret appears in nothing walmgr printed or logged, nor in RGW's logs.
        func expectNoSecret(_ secret: String = CephRGW.secretKey) {
            let log = (try? String(contentsOfFile: "\(scratch)/walmgr.log", encoding: .utf8)) ?? ""
            for (what, text) in [
                ("output", outputs.text), ("walmgr.log", log),
                ("rgw logs", lab.rgw.allLogs()),
            ] {
                #expect(!text.contains(secret), "the secret leaked into \(what)")
            }
        }

        func destroy() { TestEnv.removeScratch(scratch) }
    }

    @Test func duplicateSameIsAlreadyArchivedDifferentIsRefused() async throws {
        let bench = try await Bench(tag: "dup")
        defer { bench.destroy() }
        let ini = try bench.masterIni("master")
        let name = try WALName.validate("000000010000000000000003")
        let first = try bench.segment(name, fill: 1)
        let archived = try await bench.run([ini, "xarchive", first, name.name])
        #expect(archived.succeeded, "\(archived.stderrTail)")
        #expect(try bench.lab.keys() == ["wal/\(name.name)"])
        let again = try await bench.run([ini, "xarchive", first, name.name])
        #expect(again.succeeded, "\(again.stderrTail)")
        #expect(bench.outputs.text.contains("already archived with identical content"))

        let other = try bench.segment(name, fill: 2)
        let refused = try await bench.run([ini, "xarchive", other, name.name])
        #expect(refused.status == 1, "\(refused.stderrTail)")
        let firstSHA = Digest.hex(Digest.sha256(try S3Lab.fakeSegment(name, fill: 1)))
        let otherSHA = Digest.hex(Digest.sha256(try S3Lab.fakeSegment(name, fill: 2)))
        #expect(refused.stderrTail.contains(firstSHA) && refused.stderrTail.contains(otherSHA))
        #expect(refused.stderrTail.contains("nothing was overwritten"))

        // What is restored is the first copy, whole.
        let target = "\(bench.scratch)/restored"
        let slave = try bench.slaveIni("slave")
        let restored = try await bench.run([slave, "xrestore", name.name, target])
        #expect(restored.succeeded, "\(restored.stderrTail)")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: target))
                == Data(S3Lab.fakeSegment(name, fill: 1)))
        let missing = try await bench.run([slave, "xrestore", "000000010000000000000009", target])
        #expect(missing.status == 1)
        bench.expectNoSecret()
    }

    @Test func compressedRoundTrip() async throws {
        let bench = try await Bench(tag: "zst")
        defer { bench.destroy() }
        let ini = try bench.masterIni("master", extra: "compress_method = zstd\n")
        let name = try WALName.validate("000000010000000000000004")
        let result = try await bench.run([
            ini, "xarchive", try bench.segment(name, fill: 7), name.name,
        ])
        #expect(result.succeeded, "\(result.stderrTail)")
        #expect(try bench.lab.keys() == ["wal/\(name.name).zst"])
        let plain = try bench.slaveIni("plain")  // xrestore finds .zst even when set to none
        let target = "\(bench.scratch)/restored"
        let restored = try await bench.run([plain, "xrestore", name.name, target])
        #expect(restored.succeeded, "\(restored.stderrTail)")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: target))
                == Data(S3Lab.fakeSegment(name, fill: 7)))
        #expect(TestEnv.walmgrTemps(in: bench.scratch, for: "restored").isEmpty)
        bench.expectNoSecret()
    }

    @Test func wrongCredentialsNameEndpointAndKeyNotSecret() async throws {
        let bench = try await Bench(tag: "cred")
        defer { bench.destroy() }
        let name = try WALName.validate("000000010000000000000005")
        let segment = try bench.segment(name, fill: 3)
        let wrongSecret = "WRONGsecretWRONGsecretWRONGsecret0000"
        for (key, file) in [(CephRGW.accessKey, "wrong-secret"), ("NOSUCHKEYID", "wrong-key")] {
            let path = "\(bench.scratch)/\(file)"
            try S3Lab.writeCredentials(path, key: key, secret: wrongSecret)
            let ini = try bench.masterIni(file, credentials: path)
            let result = try await bench.run([ini, "xarchive", segment, name.name])
            #expect(result.status == 1, "\(result.stderrTail)")
            #expect(result.stderrTail.contains(bench.lab.rgw.endpoint), "\(result.stderrTail)")
            #expect(result.stderrTail.contains("access key id \(key)"), "\(result.stderrTail)")
            bench.expectNoSecret(wrongSecret)
        }
        #expect(try bench.lab.keys().isEmpty)
        bench.expectNoSecret()
    }

    /// An endpoint nobody listens on: exit 1 after the bounded retries, naming the endpoint.
    @Test func unreachableEndpointFailsBoundedNotHung() async throws {
        let bench = try await Bench(tag: "down")
        defer { bench.destroy() }
        let port = try TestEnv.freePort()
        let ini = try bench.masterIni("down", extra: "s3_endpoint = http://127.0.0.1:\(port)\n")
        let name = try WALName.validate("000000010000000000000006")
        let started = ContinuousClock.now
        let result = try await bench.run([
            ini, "xarchive", try bench.segment(name, fill: 4), name.name,
        ])
        #expect(result.status == 1, "\(result.stderrTail)")
        #expect(result.stderrTail.contains("cannot reach S3 at http://127.0.0.1:\(port)"))
        #expect(result.stderrTail.contains("after 5 attempt(s)"), "\(result.stderrTail)")
        #expect(ContinuousClock.now - started < .seconds(30))
        bench.expectNoSecret()
    }

    /// An object whose bytes do not match its sha256 metadata, and a truncated segment, are
    /// never handed to PostgreSQL; no temp file is left behind.
    @Test func damagedObjectsAreRefused() async throws {
        let bench = try await Bench(tag: "bad")
        defer { bench.destroy() }
        let client = try S3Client(
            settings: bench.lab.settings(),
            repository: try #require(try S3Repository("s3://\(bench.lab.bucket)/wal")))
        let bad = try WALName.validate("000000010000000000000007")
        let segment = try S3Lab.fakeSegment(bad, fill: 5)
        let wrongSHA = String(repeating: "0", count: 64)
        let put = try client.send(
            "PUT", "wal/\(bad.name)", headers: [("x-amz-meta-sha256", wrongSHA)], body: segment)
        #expect(put.status == 200)
        let short = try WALName.validate("000000010000000000000008")
        let half = Array(try S3Lab.fakeSegment(short, fill: 6).prefix(8 << 20))
        let putShort = try client.send(
            "PUT", "wal/\(short.name)",
            headers: [("x-amz-meta-sha256", Digest.hex(Digest.sha256(half)))], body: half)
        #expect(putShort.status == 200)
        let slave = try bench.slaveIni("slave")
        let target = "\(bench.scratch)/restored"
        let damaged = try await bench.run([slave, "xrestore", bad.name, target])
        #expect(
            damaged.status == 1 && damaged.stderrTail.contains("is damaged"),
            "\(damaged.stderrTail)")
        let truncated = try await bench.run([slave, "xrestore", short.name, target])
        #expect(truncated.status == 1, "\(truncated.stderrTail)")
        #expect(truncated.stderrTail.contains("wal_segment_size"), "\(truncated.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: target))
        let left = try FileManager.default.contentsOfDirectory(atPath: bench.scratch)
        #expect(
            !left.contains { $0.contains("s3-download") || $0.contains("walmgr-tmp") }, "\(left)")
        bench.expectNoSecret()
    }

    /// `check` on an S3 slave config proves endpoint and credentials; `status --json` names the
    /// bucket, never the secret.
    @Test func checkProbesTheBucketAndStatusHidesTheSecret() async throws {
        let bench = try await Bench(tag: "check")
        defer { bench.destroy() }
        let slave = try bench.slaveIni("slave")
        let setup = try await bench.run([slave, "setup"])
        #expect(setup.succeeded, "\(setup.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: "\(bench.scratch)/s3:"), "no dir named s3:")
        let check = try await bench.run([slave, "check"])
        #expect(
            check.output.contains("OK   completed_wals reachable: s3://\(bench.lab.bucket)/wal"))
        #expect(check.output.contains("access key id \(CephRGW.accessKey)"), "\(check.output)")
        let wrong = "\(bench.scratch)/wrong"
        try S3Lab.writeCredentials(wrong, key: CephRGW.accessKey, secret: "not-the-secret-at-all")
        let bad = try bench.slaveIni("bad", extra: "s3_credentials_file = \(wrong)\n")
        let failed = try await bench.run([bad, "check"])
        #expect(
            failed.output.contains("FAIL completed_wals reachable: S3 at \(bench.lab.rgw.endpoint)")
        )
        #expect(failed.output.contains("SignatureDoesNotMatch"), "\(failed.output)")
        let master = try await bench.run([try bench.masterIni("master"), "check"])
        #expect(master.output.contains("OK   completed_wals reachable: s3://"), "\(master.output)")
        #expect(!master.output.contains("slave space"), "\(master.output)")
        let status = try await bench.run([slave, "status", "--json"])
        #expect(
            status.output.contains("\"path\" : \"s3:\\/\\/\(bench.lab.bucket)\\/wal\"")
                || status.output.contains("s3://\(bench.lab.bucket)/wal"), "\(status.output)")
        #expect(!status.output.contains("cannot read completed_wals"), "\(status.output)")
        bench.expectNoSecret()
        bench.expectNoSecret("not-the-secret-at-all")
    }

    /// HTTPS: trusted through s3_ca_file it works; without it the certificate is refused and
    /// the message points at s3_ca_file.
    @Test func httpsWithCAFile() async throws {
        let bench = try await Bench(tag: "tls")
        defer { bench.destroy() }
        let rgw = bench.lab.rgw
        let tls = bench.lab.iniLines(endpoint: rgw.tlsEndpoint)
        let trusted = "\(bench.scratch)/trusted.ini"
        try TestEnv.writeOwned(
            trusted,
            "[walmgr]\nmaster_data = \(bench.scratch)\n\(tls)s3_ca_file = \(rgw.caFile)\n")
        let name = try WALName.validate("00000001000000000000000A")
        let segment = try bench.segment(name, fill: 9)
        let archived = try await bench.run([trusted, "xarchive", segment, name.name])
        #expect(archived.succeeded, "\(archived.stderrTail)")
        #expect(try bench.lab.keys() == ["wal/\(name.name)"])
        let untrusted = "\(bench.scratch)/untrusted.ini"
        try TestEnv.writeOwned(untrusted, "[walmgr]\nmaster_data = \(bench.scratch)\n\(tls)")
        let refused = try await bench.run([untrusted, "xarchive", segment, name.name])
        #expect(refused.status == 1, "\(refused.stderrTail)")
        // An untrusted certificate fails at the first attempt: the transport error that is
        // retried says "after N attempt(s)", this one does not.
        #expect(
            refused.stderrTail.contains("certificate")
                && !refused.stderrTail.contains("attempt(s)"), "\(refused.stderrTail)")
        #expect(refused.stderrTail.contains("cannot reach S3 at \(rgw.tlsEndpoint)"))
        #expect(refused.stderrTail.contains("s3_ca_file"), "\(refused.stderrTail)")
        bench.expectNoSecret()
    }

    /// A backup's WAL check (`xwalcheck`) asks the bucket: missing segments are named, archived
    /// ones (any suffix) pass; `xpurgewals` without a complete backup deletes nothing there.
    @Test func walCheckAndPurgeAgainstTheBucket() async throws {
        let bench = try await Bench(tag: "walck")
        defer { bench.destroy() }
        let slave = try bench.slaveIni(
            "slave", extra: "full_backup = \(bench.scratch)/data.master\n")
        let args = [
            slave, "xwalcheck", "000000010000000000000020", "000000010000000000000021",
            String(16 << 20),
        ]
        let missing = try await bench.run(args)
        #expect(
            missing.status == 1 && missing.stderrTail.contains("000000010000000000000020"),
            "\(missing.stderrTail)")
        let zstd = try bench.masterIni("zstd", extra: "compress_method = zstd\n")
        for (ini, hex) in [(try bench.masterIni("plain"), "20"), (zstd, "21")] {
            let name = try WALName.validate("0000000100000000000000\(hex)")
            let result = try await bench.run([
                ini, "xarchive", try bench.segment(name, fill: 1), name.name,
            ])
            #expect(result.succeeded, "\(result.stderrTail)")
        }
        let present = try await bench.run(args)
        #expect(present.succeeded, "\(present.stderrTail)")
        let purge = try await bench.run([slave, "xpurgewals"])
        #expect(purge.succeeded, "\(purge.stderrTail)")
        #expect(try bench.lab.keys().count == 2)
        bench.expectNoSecret()
    }
}
