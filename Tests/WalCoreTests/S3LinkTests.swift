import Foundation
import Testing

@testable import WalCore

/// The link to the object store cut (RGW on another "host", a network namespace): xarchive
/// exits 1 within its bounded retries and nothing is visible in the bucket; once the link is
/// back the same segment archives and restores whole.
@Suite(
    .serialized,
    .enabled(if: CephRGW.isAvailable && NetNS.isAvailable, "needs Ceph, root and iproute2"))
struct S3LinkTests {
    @Test func linkCutThenHealed() async throws {
        let netns = try await NetNS()
        defer { netns.destroy() }
        let rgw = try await CephRGW.start(netns: netns)
        defer { rgw.stop() }
        let scratch = try TestEnv.scratchDir(prefix: "wms3l")
        defer { TestEnv.removeScratch(scratch) }
        let s3 = try await S3Lab(scratch: scratch, tag: "link", rgw: rgw)
        let walmgr = try TestEnv.walmgrBinary(in: scratch)
        let master = "\(scratch)/master.ini"
        try TestEnv.writeOwned(master, "[walmgr]\nmaster_data = \(scratch)\n" + s3.iniLines())
        let slave = "\(scratch)/slave.ini"
        try TestEnv.writeOwned(slave, "[walmgr]\nslave_data = \(scratch)/standby\n" + s3.iniLines())
        let name = try WALName.validate("000000010000000000000011")
        let segment = "\(scratch)/segment"
        let bytes = try S3Lab.fakeSegment(name, fill: 11)
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        try TestEnv.chownToRunAsUser(segment, mode: 0o600)
        func run(_ arguments: [String]) async throws -> ProcessResult {
            try await TestEnv.runner.run(
                Command(walmgr, arguments, workingDirectory: scratch, user: TestEnv.runAsUser),
                input: .none, timeout: .seconds(120))
        }

        try await netns.setLink(up: false)
        let started = ContinuousClock.now
        let cut = try await run([master, "xarchive", segment, name.name])
        #expect(cut.status == 1, "\(cut.stderrTail)")
        #expect(cut.stderrTail.contains("cannot reach S3 at \(rgw.endpoint)"), "\(cut.stderrTail)")
        #expect(ContinuousClock.now - started < .seconds(60))
        try await netns.setLink(up: true)
        try await waitUntil("the gateway is reachable again") {
            TestEnv.accepts(host: rgw.host, port: rgw.port)
        }
        #expect(try s3.keys().isEmpty, "nothing half-visible after the cut")

        let healed = try await run([master, "xarchive", segment, name.name])
        #expect(healed.succeeded, "\(healed.stderrTail)")
        let target = "\(scratch)/restored"
        let restored = try await run([slave, "xrestore", name.name, target])
        #expect(restored.succeeded, "\(restored.stderrTail)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data(bytes))
    }
}
