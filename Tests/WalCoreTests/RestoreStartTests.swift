import Foundation
import Synchronization
import Testing

@testable import WalCore

/// Restore's speed-ups keep their guarantees: the copy is written out while cp runs (the syncfs
/// before the swap stays, see TargetGuardTests), and the start returns when the server is up,
/// not when pg_ctl -w's 100 ms poll notices, while a failed start is still reported with its log.
@Suite("Restore copy write-out and standby start")
struct RestoreStartTests {
    /// Runs commands as the server user; a command naming `hold` (cp, pg_ctl) then waits,
    /// as a slow cp or pg_ctl -w still polling would, until `release()` or 60 s.
    final class HoldingRunner: ProcessRunning, Sendable {
        let hold: String
        let fake: Bool
        private let released = Mutex(false)
        let ranToTheEnd = Mutex(false)
        /// Called while the held command waits; true ends the wait early.
        let until: @Sendable () -> Bool

        init(hold: String, fake: Bool = false, until: @escaping @Sendable () -> Bool = { false }) {
            self.hold = hold
            self.fake = fake
            self.until = until
        }

        func release() { released.withLock { $0 = true } }

        func run(_ command: Command, input: ProcessInput, timeout: Duration?) async throws
            -> ProcessResult
        {
            var command = command
            command.user = TestEnv.runAsUser
            let result =
                fake
                ? ProcessResult(status: 0)
                : try await TestEnv.runner.run(
                    command, input: input, timeout: timeout)
            guard (command.executable as NSString).lastPathComponent == hold else { return result }
            let deadline = ContinuousClock.now + .seconds(60)
            while !released.withLock({ $0 }), !until(), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            ranToTheEnd.withLock { $0 = true }
            return result
        }
    }

    /// The staging dir's file system is flushed while cp still runs. The fake cp returns only
    /// once a flush of the staging dir was seen (or after 60 s, and the test fails): without
    /// the write-out during the copy no flush comes before cp ends.
    @Test func stagingIsFlushedWhileCpRuns() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let flushed = Flushes()
        var copy = try Self.copyHeldUntilAFlush(scratch, flushed)
        copy.flushDuringCopy = { path in flushed.paths.withLock { $0.append(path) } }
        let started = ContinuousClock.now
        _ = try await copy.prepare()
        #expect(started.duration(to: .now) < .seconds(60), "cp ended before any flush")
        #expect(flushed.paths.withLock { $0.first } == copy.staging)
    }

    /// A flush during the copy that fails (syncfs says EIO: a write of the copy was lost) fails
    /// the restore. The kernel reports a write-back error to one syncfs only (the first to look
    /// marks it seen; a descriptor opened later is not told), so the syncfs before the swap
    /// would return 0 and swap in a data dir missing a write. Before, the failure was ignored.
    @Test func aFailedFlushDuringTheCopyFailsTheRestore() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let flushed = Flushes()
        var copy = try Self.copyHeldUntilAFlush(scratch, flushed)
        copy.flushDuringCopy = { path in
            flushed.paths.withLock { $0.append(path) }
            throw FileError("syncfs", path, errno: EIO)
        }
        await #expect(throws: FileError.self) { _ = try await copy.prepare() }
    }

    /// A restore of a one-file backup whose fake cp returns once `flushed` saw a flush.
    static func copyHeldUntilAFlush(_ scratch: TargetGuardTests.Scratch, _ flushed: Flushes)
        throws -> RestoreCopy
    {
        let backup = "\(scratch.walmgrData)/data.master"
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: true)
        try "15\n".write(toFile: "\(backup)/PG_VERSION", atomically: true, encoding: .utf8)
        let runner = HoldingRunner(hold: "cp", fake: true) {
            !flushed.paths.withLock { $0.isEmpty }
        }
        let template = TargetGuardTests.restoreCopy(scratch, destination: scratch.slaveData)
        return RestoreCopy(
            entry: template.entry, destination: scratch.slaveData, move: false, keepOld: false,
            runner: runner, log: Log(quiet: true), targetGuard: scratch.targetGuard)
    }

    final class Flushes: Sendable {
        let paths = Mutex<[String]>([])
    }

    private func standby(_ cluster: PGCluster, runner: any ProcessRunning) throws -> StandbyServer {
        let common = CommonConfig(
            configFile: "\(cluster.scratch)/wal-slave.ini", jobName: "t",
            walmgrData: "\(cluster.scratch)/w")
        let config = SlaveConfig(
            common: common, slaveData: cluster.dataDir, slaveBin: cluster.binDir,
            slaveDb: "dbname=postgres user=postgres")
        // The start log's dir, as a restore running as the server user would make it.
        let logDir = "\(cluster.dataDir)/log"
        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(logDir, mode: 0o700)
        return StandbyServer(config, runner: runner, log: Log(quiet: true))
    }

    /// start() returns once the server accepts connections, while pg_ctl -w (held here, as if
    /// its next 100 ms poll were far off) has not returned yet.
    @Test(arguments: TestEnv.pgBinDirs)
    func startReturnsWhenTheServerIsUpNotWhenPgCtlReturns(binDir: String) async throws {
        let cluster = try await PGCluster(binDir: binDir)
        defer { cluster.destroy() }
        let runner = HoldingRunner(hold: "pg_ctl")
        defer { runner.release() }
        try await standby(cluster, runner: runner).start(
            settings: StartSettings.afterRestore(cluster.version))
        #expect(!runner.ranToTheEnd.withLock { $0 }, "start() waited for pg_ctl to return")
        #expect(try await cluster.psql("SELECT 1") == "1")
    }

    /// A server that exits during start-up (a bad setting) is reported at once, with the
    /// server log's tail, although postmaster.pid never appears.
    @Test(arguments: TestEnv.pgBinDirs)
    func aServerThatExitsDuringStartIsReportedWithItsLog(binDir: String) async throws {
        let cluster = try await PGCluster(binDir: binDir)
        defer { cluster.destroy() }
        try cluster.appendConf("shared_buffers = 'lots'")
        let server = try standby(cluster, runner: HoldingRunner(hold: "none"))
        do {
            try await server.start()
            Issue.record("the start did not fail")
        } catch let error as StandbyError {
            let text = "\(error)"
            #expect(text.contains("shared_buffers"), "\(text)")
            #expect(text.contains("walmgr-start.log"), "\(text)")
        }
        #expect(!cluster.isRunning)
    }

    /// With backup_datadir = no the swap leaves the old data dir as `<DST>.walmgr-old` for
    /// restore to remove while the standby starts (removeOld), instead of deleting it first.
    @Test func swapLeavesTheOldDirForRemovalDuringTheStart() throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let destination = scratch.slaveData
        let copy = try TargetGuardTests.stagedCopy(scratch, destination: destination) { _ in }
        let old = try copy.swap(tablespaceTargets: [])
        #expect(old == ["\(destination).walmgr-old"])
        #expect(try String(contentsOfFile: "\(old[0])/PG_VERSION", encoding: .utf8) == "old")
        #expect(try String(contentsOfFile: "\(destination)/PG_VERSION", encoding: .utf8) == "new")
        try copy.removeOld(old)
        #expect(!FileManager.default.fileExists(atPath: old[0]))
    }

    /// The removal's thread is awaited: value() returns after the work, with its error.
    @Test func offThreadWorkIsAwaitedWithItsError() async throws {
        struct Failed: Error {}
        let ran = Flushes()
        try await OffThread.start { ran.paths.withLock { $0.append("ran") } }.value()
        #expect(ran.paths.withLock { $0 } == ["ran"])
        await #expect(throws: Failed.self) { try await OffThread.start { throw Failed() }.value() }
    }

    /// Bare program names are found in PATH with stat (no process per PATH entry): a missing
    /// dir, a non-executable file and a directory of that name are passed over.
    @Test func bareNamesAreFoundInPathWithoutSpawning() throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let plain = "\(scratch.root)/plain"
        let dir = "\(scratch.root)/dir"
        try FileManager.default.createDirectory(
            atPath: "\(dir)/cp", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try "no".write(toFile: "\(plain)/cp", atomically: true, encoding: .utf8)
        let path = "\(scratch.root)/missing:\(plain):\(dir):relative:/usr/bin:/bin"
        #expect(SubprocessRunner.lookUp("cp", path: path) == "/usr/bin/cp")
        #expect(SubprocessRunner.lookUp("walmgr-no-such-tool", path: path) == nil)
    }

    /// The standby already runs when the old data dir's removal ends: its failure is a warning,
    /// written to the log, and restore still exits 0.
    @Test func failedRemovalAfterTheStartIsAWarning() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "wmrm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logfile = "\(dir)/walmgr.log"
        let removing = OffThread.start { throw FileError("remove", "\(dir)/slave.walmgr-old") }
        let status = await Restore.awaitRemoval(removing, log: Log(quiet: true, logfile: logfile))
        #expect(status == 0)
        let logged = try String(contentsOfFile: logfile, encoding: .utf8)
        #expect(logged.contains("the old data dir was not removed"), "\(logged)")
        #expect(logged.contains("slave.walmgr-old"), "\(logged)")
    }
}
