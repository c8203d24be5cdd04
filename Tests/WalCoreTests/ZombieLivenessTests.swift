import Foundation
import Testing

@testable import WalCore

/// Every "is this pid alive" goes through ``ProcessLiveness/isGone(_:)``: a process that has
/// exited but is not reaped yet (a zombie) runs nothing, so a zombie postmaster is no running
/// server, a zombie backup holds no lock and a zombie daemon takes no signal.
@Suite struct ZombieLivenessTests {
    /// A scratch dir and a zombie whose pid the callers are given.
    private func withZombie(_ body: (String, Zombie) throws -> Void) async throws {
        let dir = try TestEnv.scratchDir(prefix: "zombie")
        defer { TestEnv.removeScratch(dir) }
        let zombie = try await Zombie.start(in: dir)
        defer { zombie.stop() }
        try body(dir, zombie)
        #expect(zombie.isZombie, "still a zombie at the end: the checks above saw one")
    }

    @Test func zombiePostmasterIsNotRunning() async throws {
        try await withZombie { dir, zombie in
            try "\(zombie.pid)\n\(dir)\n".write(
                toFile: "\(dir)/postmaster.pid", atomically: false, encoding: .utf8)
            #expect(PostmasterPidFile(dataDir: dir).livePID == nil)
            #expect(
                PostmasterWatch(dataDir: dir, role: "master").gone()?.contains(
                    "pid \(zombie.pid)") == true)
            try "\(getpid())\n\(dir)\n".write(
                toFile: "\(dir)/postmaster.pid", atomically: false, encoding: .utf8)
            #expect(PostmasterPidFile(dataDir: dir).livePID == getpid())
            #expect(PostmasterWatch(dataDir: dir, role: "master").gone() == nil)
        }
    }

    @Test func zombieBackupLockHolderIsStale() async throws {
        try await withZombie { _, zombie in
            let lock = BackupLock(completedWals: "/nonexistent")
            let holder = BackupLock.Holder(
                pid: zombie.pid, host: BackupLock.hostName, since: "2026-01-01T00:00:00Z")
            #expect(lock.staleReason(holder) == "process \(zombie.pid) is gone")
            var live = holder
            live.pid = getpid()
            #expect(lock.staleReason(live) == nil)
        }
    }

    @Test func zombieDaemonIsNotLive() async throws {
        try await withZombie { dir, zombie in
            let pidfile = "\(dir)/daemon.pid"
            try "\(zombie.pid)\n".write(toFile: pidfile, atomically: false, encoding: .utf8)
            #expect(DaemonControl.livePid(pidfile: pidfile) == nil)
            try "\(getpid())\n".write(toFile: pidfile, atomically: false, encoding: .utf8)
            #expect(DaemonControl.livePid(pidfile: pidfile) == getpid())
        }
    }
}
