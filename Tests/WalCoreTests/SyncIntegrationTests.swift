import Foundation
import Testing

@testable import WalCore

/// sync, syncdaemon and xpartialsync on real servers: RPO, segment switch, bad input.
@Suite(.serialized) struct SyncIntegrationTests {
    /// Archive-only standby plus syncdaemon (loop_delay 1): after a crash of the master host,
    /// the standby has every id committed more than 2 s before the crash, with no gaps.
    @Test(arguments: TestEnv.pgBinDirs)
    func syncdaemonBoundsTheLoss(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        var daemon: pid_t?
        defer {
            if let daemon { TestEnv.terminate(daemon, signal: SIGKILL) }
            lab.destroy()
        }
        try await lab.prepareArchiveOnlyStandby()
        try lab.writeSyncIni(loopDelay: 1)
        daemon = try await lab.startSyncDaemon()
        let second = try await lab.sync(["syncdaemon"])
        #expect(second.status == 1)
        #expect(
            second.stderrTail.contains("already runs as pid \(daemon!)"), "\(second.stderrTail)")

        let outcome = try await lab.crashAndBoot(inserting: .seconds(6), daemon: daemon)
        daemon = nil
        let mustHave = outcome.lastCommitted(before: .seconds(2))
        #expect(mustHave > 0)
        #expect(outcome.standbyCount == outcome.standbyMax, "ids are contiguous from 1")
        let detail =
            "standby has up to id \(outcome.standbyMax) of \(outcome.committedAt.count), needs "
            + "\(mustHave); lost \(outcome.secondsLost) s\n\(lab.daemonLog())"
        #expect(outcome.standbyMax >= mustHave, "\(detail)")
        #expect(lab.daemonLog().contains("sync (record)"))
        print("RPO \(lab.master.version): lost \(outcome.secondsLost) s at loop_delay 1")
        let partials = try FileManager.default.contentsOfDirectory(
            atPath: "\(lab.walmgrData)/logs.partial")
        let completed = try FileManager.default.contentsOfDirectory(atPath: lab.completedWals)
        #expect(Set(partials).isDisjoint(with: completed), "boot removed archived partials")
    }

    /// Without syncdaemon the open segment is lost whole: no row inserted after the backup's
    /// segment switch reaches the standby.
    @Test func withoutSyncdaemonTheOpenSegmentIsLost() async throws {
        let lab = try await StandbyLab(
            binDir: try #require(TestEnv.defaultBinDir), streaming: false)
        defer { lab.destroy() }
        try await lab.prepareArchiveOnlyStandby()
        let outcome = try await lab.crashAndBoot(inserting: .seconds(3), daemon: nil)
        #expect(outcome.committedAt.count > 10)
        #expect(outcome.standbyCount == 0, "every commit in the open segment is gone")
        #expect(outcome.secondsLost >= 2.5, "lost \(outcome.secondsLost) s")
    }

    /// One-shot sync across a segment switch: the old segment's tail reaches the slave, so the
    /// partial copy equals the archived segment byte for byte; the next segment's head follows.
    @Test(arguments: TestEnv.pgBinDirs)
    func segmentSwitchSendsTheTail(binDir: String) async throws {
        let lab = try await StandbyLab(binDir: binDir, streaming: false)
        defer { lab.destroy() }
        try lab.writeSyncIni(loopDelay: 1)
        let partialDir = "\(lab.walmgrData)/logs.partial"
        try await lab.master.psql("CREATE TABLE s AS SELECT g FROM generate_series(1, 1000) g")
        let first = try await lab.sync(["sync"])
        #expect(first.succeeded, "\(first.stderrTail)")
        let name = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        #expect(FileManager.default.fileExists(atPath: "\(partialDir)/\(name)"))

        try await lab.master.psql("INSERT INTO s SELECT g FROM generate_series(1, 1000) g")
        try await lab.master.psql("SELECT pg_switch_wal()")
        try await lab.master.psql("INSERT INTO s VALUES (0)")
        let second = try await lab.sync(["sync"])
        #expect(second.succeeded, "\(second.stderrTail)")
        #expect(second.stderrTail.contains("in 2 pieces"), "\(second.stderrTail)")
        try await waitUntil("\(name) archived") {
            FileManager.default.fileExists(atPath: "\(lab.completedWals)/\(name)")
        }
        #expect(try FileCompare.identical("\(partialDir)/\(name)", "\(lab.completedWals)/\(name)"))
        let next = try await lab.master.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        #expect(next != name && FileManager.default.fileExists(atPath: "\(partialDir)/\(next)"))
        // It continues where the second sync stopped (.walshipping.sync), not from the segment's
        // start; the server may have written a few bytes meanwhile (a running-xacts record), so
        // the byte count is not asserted, the offset is.
        let third = try await lab.sync(["sync"])
        let offset = third.stderrTail.components(separatedBy: "\(next) offset ").dropFirst().first
            .flatMap { Int($0.prefix { $0.isNumber }) }
        #expect((offset ?? 0) > 0, "continues from .walshipping.sync: \(third.stderrTail)")
    }

    /// xpartialsync refuses a bad name, a range past the segment and a short stdin, and leaves
    /// the file as it was; a good write lands at its offset.
    @Test func xpartialsyncRejectsBadInput() async throws {
        let lab = try await StandbyLab(
            binDir: try #require(TestEnv.defaultBinDir), streaming: false)
        defer { lab.destroy() }
        let name = "000000010000000000000007"
        let path = "\(lab.walmgrData)/logs.partial/\(name)"
        let size = 16 << 20
        func xps(_ args: [String], _ bytes: [UInt8]) async throws -> ProcessResult {
            let command = Command(
                lab.walmgr, [lab.slaveIni, "xpartialsync"] + args, user: TestEnv.runAsUser)
            return try await TestEnv.runner.run(
                command, input: .bytes(bytes), timeout: .seconds(30))
        }
        let good = try await xps([name, "100", "3", "\(size)"], [1, 2, 3])
        #expect(good.succeeded, "\(good.stderrTail)")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before.count == size && Array(before[99..<104]) == [0, 1, 2, 3, 0])

        for (args, input) in [
            (["../\(name)", "0", "3", "\(size)"], [UInt8](repeating: 9, count: 3)),
            (["\(name);rm", "0", "3", "\(size)"], [9, 9, 9]),
            ([name, "\(size - 1)", "3", "\(size)"], [9, 9, 9]),
            ([name, "0", "10", "\(size)"], [9, 9, 9]),
            ([name, "0", "3", "12345"], [9, 9, 9]),
        ] {
            let result = try await xps(args, input)
            #expect(result.status == 1, "\(args): \(result.statusText)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "\(args)")
        }
    }
}
