import Foundation
import Testing

@testable import WalCore

/// xarchive over the network under kill -9, racing itself, and against a conflicting file.
@Suite(.serialized, .enabled(if: FaultLab.networkReady))
struct FaultKillTests {
    static let runs = 20

    @Test(arguments: FaultLab.networkBinDirs)
    func killNineNeverLeavesAWrongFinalFile(binDir: String) async throws {
        let lab = try await FaultLab(binDir: binDir)
        defer { lab.destroy() }
        try await lab.pair.setupAndRestart()
        var generator = SystemRandomNumberGenerator()
        var finalsAfterKill = 0
        for run in 0..<Self.runs {
            let name = WALSegment(timeline: 1, number: 0xA0 + UInt64(run), size: 1 << 20).name
            let source = try makeSegmentFile(lab, name: name)
            let final = "\(lab.pair.completedWals)/\(name)"
            let delay = Int.random(in: 0...120, using: &generator)
            let pid = try spawnXArchive(lab, source: source, name: name)
            try await Task.sleep(for: .milliseconds(delay))
            kill(pid, SIGKILL)
            // A process in an fsync dies only when the fsync returns: under I/O load (CI with
            // two CPU-burning loops) that took more than 10 s.
            try await waitUntil("xarchive \(pid) is gone", timeout: .seconds(120)) {
                TestEnv.processGone(pid)
            }
            // The killed walmgr's ssh child may still finish the transfer; wait for it too.
            try await waitUntil("no transfer of \(name) is left", timeout: .seconds(30)) {
                TestEnv.walmgrTemps(in: lab.pair.completedWals, for: name).isEmpty
                    || (try? FileCompare.identical(source, final)) == true
            }
            if FileManager.default.fileExists(atPath: final) {
                finalsAfterKill += 1
                #expect(try FileCompare.identical(source, final), "run \(run) after \(delay) ms")
            }
            let retry = try await lab.run([lab.pair.masterIni, "xarchive", source, name])
            #expect(retry.succeeded, "run \(run): \(retry.stderrTail)")
            #expect(try FileCompare.identical(source, final), "run \(run): retry content")
        }
        print(
            "kill -9 of xarchive: \(finalsAfterKill)/\(Self.runs) runs had finished before the kill"
        )
        try lab.expectArchiveMatchesPGWAL()
        lab.expectSecretNeverPrinted()
    }

    @Test(arguments: FaultLab.networkBinDirs)
    func concurrentCallsAndConflictsKeepOneCorrectFile(binDir: String) async throws {
        let lab = try await FaultLab(binDir: binDir)
        defer { lab.destroy() }
        try await lab.pair.setupAndRestart()
        for run in 0..<5 {
            let name = WALSegment(timeline: 1, number: 0xC0 + UInt64(run), size: 1 << 20).name
            let source = try makeSegmentFile(lab, name: name)
            let command = Command(
                lab.pair.walmgr, [lab.pair.masterIni, "xarchive", source, name],
                workingDirectory: lab.pair.scratch, user: TestEnv.runAsUser)
            let runner = TestEnv.runner
            async let first = runner.run(command, input: .none, timeout: .seconds(60))
            async let second = runner.run(command, input: .none, timeout: .seconds(60))
            let (a, b) = try await (first, second)
            #expect(a.succeeded && b.succeeded, "run \(run): \(a.stderrTail) / \(b.stderrTail)")
            let final = "\(lab.pair.completedWals)/\(name)"
            #expect(try FileCompare.identical(source, final), "run \(run)")

            var other = try Data(contentsOf: URL(fileURLWithPath: source))
            other[other.count / 2] ^= 0x01
            let impostor = "\(lab.pair.scratch)/impostor"
            try other.write(to: URL(fileURLWithPath: impostor))
            try TestEnv.chownToRunAsUser(impostor, mode: 0o644)
            let conflict = try await lab.run([lab.pair.masterIni, "xarchive", impostor, name])
            #expect(conflict.status == 1, "a different file under \(name) must be refused")
            #expect(conflict.stderrTail.contains("different content"), "\(conflict.stderrTail)")
            #expect(try FileCompare.identical(source, final), "the original is kept")
        }
        try lab.expectArchiveMatchesPGWAL()
        lab.expectSecretNeverPrinted()
    }

    /// A 1 MiB file of random bytes (from /dev/urandom) owned by the server's user; the size of a
    /// `--wal-segsize=1` segment keeps 20 kill runs within the CI budget.
    func makeSegmentFile(_ lab: FaultLab, name: String) throws -> String {
        let path = "\(lab.pair.scratch)/src-\(name)"
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        defer { try? random.close() }
        let bytes = try #require(try random.read(upToCount: 1 << 20))
        try bytes.write(to: URL(fileURLWithPath: path))
        try TestEnv.chownToRunAsUser(path, mode: 0o644)
        return path
    }

    /// Starts `walmgr MASTER_INI xarchive SOURCE NAME` as the server's user; returns its PID.
    func spawnXArchive(_ lab: FaultLab, source: String, name: String) throws -> pid_t {
        try TestEnv.spawn(
            TestEnv.asRunUser([lab.pair.walmgr, lab.pair.masterIni, "xarchive", source, name]),
            cwd: lab.pair.scratch
        ).processIdentifier
    }
}
