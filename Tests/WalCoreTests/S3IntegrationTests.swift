import Foundation
import Testing

@testable import WalCore

/// xarchive/xrestore with completed_wals = s3://… against a real Ceph RADOS Gateway.
@Suite(.serialized, .enabled(if: CephRGW.isAvailable, "needs ceph-mon, ceph-osd, radosgw"), .cephRGW)
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
            scratch = try TestEnv.scratchDir(prefix: "wms3")
            walmgr = try TestEnv.walmgrBinary(in: scratch)
            lab = try await S3Lab(scratch: scratch, tag: tag)
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
            for (what, text) in [("output", outputs.text), ("walmgr.log", log),
                ("rgw logs", lab.rgw.allLogs())]
            {
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
        #expect(try Data(contentsOf: URL(fileURLWithPath: target))
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
        let result = try await bench.run([ini, "xarchive", try bench.segment(name, fill: 7), name.name])
        #expect(result.succeeded, "\(result.stderrTail)")
        #expect(try bench.lab.keys() == ["wal/\(name.name).zst"])
        let plain = try bench.slaveIni("plain")  // xrestore finds .zst even when set to none
        let target = "\(bench.scratch)/restored"
        let restored = try await bench.run([plain, "xrestore", name.name, target])
        #expect(restored.succeeded, "\(restored.stderrTail)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: target))
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
}
