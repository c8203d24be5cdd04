import Dispatch
import Foundation
import Synchronization
import Testing

@testable import WalCore

/// The backup lock under concurrent takers, the manual `xlock`, and syncdaemon's lock, log and
/// pid files and walmgr3 flags (-d/-s/-r before the config), against the built binary.
@Suite struct DaemonLockTests {
    /// Six takers of a stale lock at once, 30 rounds: at most one may win each round.
    @Test func staleLockTakeoverHasOneWinner() throws {
        let dir = try TestEnv.scratchDir(prefix: "wml")
        defer { TestEnv.removeScratch(dir) }
        let lock = BackupLock(completedWals: dir)
        let log = Log(verbose: false, quiet: true)
        let stale = "pid=999999999\nhost=\(BackupLock.hostName)\nsince=x\n"
        var doubleWins: [Int] = []
        for round in 0..<30 {
            try Data(stale.utf8).write(to: URL(fileURLWithPath: lock.path))
            let wins = Mutex(0)
            let gate = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for _ in 0..<6 {
                group.enter()
                Thread.detachNewThread {
                    gate.wait()
                    let me = BackupLock.Holder(pid: getpid(), host: BackupLock.hostName, since: "y")
                    if (try? lock.acquire(me, log: log)) != nil { wins.withLock { $0 += 1 } }
                    group.leave()
                }
            }
            for _ in 0..<6 { gate.signal() }
            group.wait()
            let won = wins.withLock { $0 }
            #expect(won == 1, "round \(round): \(won) takers won")
            if won > 1 { doubleWins.append(round) }
        }
        #expect(doubleWins.isEmpty, "two backups would have run at once in rounds \(doubleWins)")
    }

    @Test func manualLockIsNeverStaleAndOnlyPlainXreleaseDropsIt() throws {
        let dir = try TestEnv.scratchDir(prefix: "wml")
        defer { TestEnv.removeScratch(dir) }
        let lock = BackupLock(completedWals: dir)
        let log = Log(verbose: false, quiet: true)
        try lock.acquire(.manual(host: "db2", since: "2020-01-01T00:00:00Z"), log: log)
        #expect(lock.holder()?.manual == true)
        let backup = BackupLock.Holder(pid: getpid(), host: BackupLock.hostName, since: "x")
        let error = #expect(throws: BackupError.self) { try lock.acquire(backup, log: log) }
        #expect(error?.description.contains("xrelease") == true)
        #expect(try lock.release(pid: 0) == false)
        #expect(try lock.release() == true)
        try lock.acquire(backup, log: log)
    }

    /// `xlock` run by hand (from a shell that then exits) holds until `xrelease`.
    @Test func manualXlockHoldsUntilXrelease() async throws {
        let lab = try DaemonLab(role: .slave)
        defer { lab.destroy() }
        let manual = try await lab.run(
            "/bin/sh", ["-c", "\"$0\" \"$1\" xlock; exit $?", lab.walmgr, lab.ini])
        #expect(manual.succeeded, "\(manual.stderrTail)")
        let pid = String(getpid())
        let backup = try await lab.walmgr([lab.ini, "xlock", pid, BackupLock.hostName])
        #expect(!backup.succeeded, "a backup's xlock went through a manual lock")
        #expect(backup.stderrTail.contains("xrelease"), "\(backup.stderrTail)")
        #expect(try await lab.walmgr([lab.ini, "xrelease", pid]).succeeded)
        #expect(FileManager.default.fileExists(atPath: "\(lab.completedWals)/BACKUPLOCK"))
        #expect(try await lab.walmgr([lab.ini, "xrelease"]).succeeded)
        #expect(try await lab.walmgr([lab.ini, "xlock", pid, BackupLock.hostName]).succeeded)
    }

    /// Without pidfile a second syncdaemon on the same config is refused.
    @Test func syncdaemonWithoutPidfileIsExclusive() async throws {
        let lab = try DaemonLab(role: .master, extra: "logfile = %(walmgr_data)s/sync.log\n")
        defer { lab.destroy() }
        let logfile = "\(lab.dir)/walshipping/sync.log"
        let first = try TestEnv.spawn(
            TestEnv.asRunUser([lab.walmgr, lab.ini, "syncdaemon"]), cwd: lab.dir)
        defer { TestEnv.terminate(first.processIdentifier, signal: SIGTERM) }
        try await waitUntil("the first syncdaemon logs its start", timeout: .seconds(120)) {
            lab.text(logfile).contains("syncdaemon started")
        }
        let second = try await lab.walmgr([lab.ini, "syncdaemon"], timeout: .seconds(90))
        #expect(!second.succeeded && !second.timedOut, "a second syncdaemon ran")
        #expect(second.stderrTail.contains("another syncdaemon runs"), "\(second.stderrTail)")
        #expect(first.isRunning)
    }

    /// A logfile whose directory is missing: the directory is created 0700 and gets the lines.
    @Test func logfileDirIsCreated() async throws {
        let lab = try DaemonLab(role: .slave, extra: "logfile = %(walmgr_data)s/log/a/walmgr.log\n")
        defer { lab.destroy() }
        let released = try await lab.walmgr([lab.ini, "xrelease"])
        #expect(released.succeeded, "\(released.stderrTail)")
        #expect(DaemonLab.mode("\(lab.dir)/walshipping/log/a") == 0o700)
        #expect(lab.text("\(lab.dir)/walshipping/log/a/walmgr.log").contains("no backup lock"))
    }

    /// walmgr3's order (`walmgr -d INI syncdaemon`), a pidfile and logfile in missing dirs,
    /// `-r` reloading loop_delay in the running daemon, `-s` stopping it.
    @Test func daemonFlagsBeforeConfigPidfileDirAndReload() async throws {
        let extra =
            "pidfile = %(walmgr_data)s/run/x/sync.pid\nlogfile = %(walmgr_data)s/log/sync.log\n"
        let lab = try DaemonLab(role: .master, extra: extra)
        defer { lab.destroy() }
        let pidfile = "\(lab.dir)/walshipping/run/x/sync.pid"
        let logfile = "\(lab.dir)/walshipping/log/sync.log"
        let started = try await lab.walmgr(["-d", lab.ini, "syncdaemon"])
        #expect(started.succeeded, "\(started.stderrTail)\n\(lab.text(logfile))")
        let pid = try #require(DaemonControl.lockedPid(pidfile: pidfile))
        defer { TestEnv.terminate(pid, signal: SIGKILL) }
        #expect(DaemonLab.mode("\(lab.dir)/walshipping/run/x") == 0o700)
        try lab.writeIni(loopDelay: "0.5", extra: extra)
        let reload = try await lab.walmgr(["-r", lab.ini, "syncdaemon"])
        #expect(reload.succeeded, "\(reload.stderrTail)")
        try await waitUntil("the daemon logs the reload", timeout: .seconds(30)) {
            lab.text(logfile).contains("loop_delay: 1.0 -> 0.5")
        }
        #expect(try await lab.walmgr(["-s", lab.ini, "syncdaemon"]).succeeded)
        try await waitUntil("syncdaemon exits after -s", timeout: .seconds(30)) {
            TestEnv.processGone(pid)
        }
    }

    /// The reload line names changed values but never a connection string's password.
    @Test func reloadChangesHideConnectionStrings() throws {
        func config(_ lines: String) throws -> MasterConfig {
            let text = "[walmgr]\nmaster_data = /pg\nwalmgr_data = /w\n" + lines
            let loaded = try ConfigLoader.load(
                text: text, fileName: "m.ini", configFile: "/m.ini", overrides: [], home: "/",
                hostName: "h")
            return try #require(loaded.config.master)
        }
        let old = try config("master_db = password=old1\nloop_delay = 10\n")
        let new = try config("master_db = password=new2\nloop_delay = 2\n")
        let lines = ConfigReload.changes(from: old, to: new).map(\.line)
        #expect(lines == ["loop_delay: 10.0 -> 2.0", "master_db changed"])
    }

    @Test func topLevelHelpFitsEightyColumns() async throws {
        let lab = try DaemonLab(role: .slave)
        defer { lab.destroy() }
        let help = try await lab.walmgr(["--help"])
        #expect(help.succeeded)
        let wide = help.output.split(separator: "\n").map(String.init).filter { $0.count > 80 }
        #expect(wide.isEmpty, "lines over 80 columns:\n\(wide.joined(separator: "\n"))")
        #expect(help.output.contains("-r"))
    }
}
