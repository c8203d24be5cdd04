import Foundation
import Testing

@testable import WalCore

/// boot's helpers without a server: the partial guard xrestore applies after STOP, the quiet
/// wait on partial_wals, the bin-dir search order and pg_control's system identifier.
@Suite struct BootUnitTests {
    typealias Scratch = StandbyXRestoreTests.Scratch
    static let name = StandbyXRestoreTests.name
    /// The segment's start: 0/3000000 for ...03 at 16 MiB.
    static let start: UInt64 = 3 << 24

    /// A partial of `name` holding non-zero WAL bytes up to `end` (zeros after).
    static func partial(end: Int) -> Data {
        var data = StandbyXRestoreTests.segment(name)
        data[37] = 0x20  // xlp_xlog_blcksz = 8192
        for i in 40..<end { data[i] = 0xAB }
        return data
    }

    /// Writes `partial` into partial_wals and STOP with `standbyLSN`; runs xrestore.
    func serve(_ s: Scratch, partial: Data, standbyLSN: UInt64?) async throws -> Int32 {
        try partial.write(to: URL(fileURLWithPath: "\(s.files.partialWals)/\(Self.name)"))
        try StandbyFiles.create(
            s.files.stopFile, note: PartialGuard.stopNote(standbyLSN: standbyLSN.map(LSN.init)))
        return try await XRestore.run(s.context([Self.name, s.target]))
    }

    @Test func aPartialShorterThanTheStandbysPositionIsNotServed() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let partial = Self.partial(end: 20000)
        #expect(try await serve(s, partial: partial, standbyLSN: Self.start + 20001) == 1)
        #expect(!FileManager.default.fileExists(atPath: s.target), "pg_wal keeps its own copy")
        #expect(try await serve(s, partial: partial, standbyLSN: Self.start + 1 << 24) == 1)

        #expect(try await serve(s, partial: partial, standbyLSN: Self.start + 20000) == 0)
        #expect(FileManager.default.contents(atPath: s.target) == partial)
        #expect(try await serve(s, partial: partial, standbyLSN: Self.start - 100) == 0)
        #expect(try await serve(s, partial: partial, standbyLSN: nil) == 0, "an old STOP")
    }

    @Test func aPartialIsNotServedWhenPgWalHoldsALaterValidPage() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let own = "\(s.root)/pgdata/pg_wal/\(Self.name)"
        var streamed = Self.partial(end: 30000)
        // A recycled segment: pages with another segment's address do not count.
        func pageHeader(at offset: Int, address: UInt64) {
            streamed[offset] = 0x16
            streamed[offset + 1] = 0xD1
            for i in 0..<8 {
                streamed[offset + 8 + i] = UInt8(truncatingIfNeeded: address >> (8 * i))
            }
        }
        pageHeader(at: 24576, address: (7 << 24) + 24576)
        try streamed.write(to: URL(fileURLWithPath: own))
        #expect(try await serve(s, partial: Self.partial(end: 10000), standbyLSN: nil) == 0)

        pageHeader(at: 16384, address: Self.start + 16384)
        try streamed.write(to: URL(fileURLWithPath: own))
        try? FileManager.default.removeItem(atPath: s.target)
        #expect(try await serve(s, partial: Self.partial(end: 10000), standbyLSN: nil) == 1)
        #expect(try await serve(s, partial: Self.partial(end: 16385), standbyLSN: nil) == 0)
    }

    @Test func stopNoteCarriesTheStandbyPosition() {
        let note = PartialGuard.stopNote(standbyLSN: LSN("0/3000148"))
        #expect(PartialGuard.standbyLSN(stopText: note) == LSN("0/3000148"))
        #expect(
            PartialGuard.standbyLSN(stopText: "written by walmgr boot: serve partial_wals\n") == nil
        )
        #expect(PartialGuard.standbyLSN(stopText: "standby_lsn = nonsense") == nil)
    }

    @Test func quietWaitReturnsAtOnceForAnOldOrEmptyDir() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let started = ContinuousClock.now
        try await Boot.waitForQuietPartials(s.files.partialWals, quiet: 60, log: Log(quiet: true))
        let file = "\(s.files.partialWals)/\(Self.name)"
        try Data([1]).write(to: URL(fileURLWithPath: file))
        var old = [
            timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0),
        ]
        #expect(utimensat(AT_FDCWD, file, &old, 0) == 0)
        try await Boot.waitForQuietPartials(s.files.partialWals, quiet: 60, log: Log(quiet: true))
        #expect(ContinuousClock.now - started < .seconds(30), "it waited for the quiet period")
    }

    /// A poll that comes late (a busy host) counts the quiet period from the last write, not
    /// from itself; a removal, which has no mtime, from the poll; a clock stepped back, from now.
    @Test func quietPeriodStartsAtTheLastWrite() {
        var old = Boot.PartialsState("/nonexistent")
        old.newest = 100
        old.files = 1
        var written = old
        written.newest = 101
        written.bytes = 8192
        #expect(Boot.quietStart(after: old, now: written, at: 115) == 101)
        #expect(Boot.quietStart(after: old, now: written, at: 100.5) == 100.5)
        var removed = old
        removed.files = 0
        removed.newest = 0
        #expect(Boot.quietStart(after: old, now: removed, at: 115) == 115)
    }

    @Test func quietWaitWaitsUntilTheLastWriteIsQuietLongEnough() async throws {
        let s = try Scratch()
        defer { s.remove() }
        let file = "\(s.files.partialWals)/\(Self.name)"
        let writer = try BootIntegrationTests.writer(file, rounds: 4)
        try await waitUntil("the writer started") { FileManager.default.fileExists(atPath: file) }
        // quiet 2: the wait gives up after 20 s, far beyond the writer's 0.8 s even when busy.
        try await Boot.waitForQuietPartials(s.files.partialWals, quiet: 2, log: Log(quiet: true))
        let returned = Date()
        try await TestEnv.waitExit(writer)
        let lastWrite = try BootIntegrationTests.modified(file)
        #expect(returned.timeIntervalSince(lastWrite) >= 1.5, "waited for the last write")
    }

    @Test func binSearchOrderWithoutSlaveBin() {
        let dirs = StandbyBin.candidates(
            for: ServerVersion(num: 180000), pgConfigBindir: "/opt/pg18/bin",
            path: ["/usr/local/bin", "/opt/pg18/bin/", "", "/usr/bin"])
        #expect(
            dirs == [
                "/usr/lib/postgresql/18/bin", "/usr/pgsql-18/bin", "/opt/pg18/bin",
                "/usr/local/bin", "/usr/bin",
            ])
        #expect(
            StandbyBin.candidates(for: ServerVersion(num: 90600), pgConfigBindir: nil, path: [])
                == ["/usr/lib/postgresql/9.6/bin", "/usr/pgsql-9.6/bin"])
    }

    @Test func systemIdentifierComesFromPgControl() throws {
        let s = try Scratch()
        defer { s.remove() }
        #expect(ControlFile.systemIdentifier("\(s.root)/pgdata") == nil)
        try FileManager.default.createDirectory(
            atPath: "\(s.root)/pgdata/global", withIntermediateDirectories: true)
        var id: UInt64 = 7_312_345_678_901_234_567
        let bytes = withUnsafeBytes(of: &id) { Data($0) } + Data(count: 100)
        try bytes.write(to: URL(fileURLWithPath: "\(s.root)/pgdata/global/pg_control"))
        #expect(ControlFile.systemIdentifier("\(s.root)/pgdata") == id)
    }
}
