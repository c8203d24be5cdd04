import Foundation
import Testing

@testable import WalCore

/// Master and slave on separate network "hosts" for the fault suite: the master (PostgreSQL and
/// walmgr) in the root namespace, sshd and the slave's walmgr in a private namespace reached
/// over a veth pair. Every walmgr run's output is kept so the suite can prove that the
/// conninfo password never appears. Always call `destroy()`.
final class FaultLab {
    /// The password put into every conninfo of the suite; it must never be printed.
    static let secret = "s3cret"
    /// ssh liveness for the tests: a dead link is noticed within about 4 s.
    static let fastLiveness = [
        "-o", "ConnectTimeout=3", "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3",
    ]
    /// The network cases run on one PostgreSQL version (15 when present) to keep CI short.
    static let networkBinDirs: [String] = {
        let fifteen = TestEnv.pgBinDirs.filter { $0.contains("/15/") }
        return Array((fifteen.isEmpty ? TestEnv.pgBinDirs : fifteen).prefix(1))
    }()
    /// True when namespaces and sshd are usable; prints why the network cases are skipped if not.
    static let networkReady: Bool = {
        guard NetNS.isAvailable, SSHD.isAvailable else {
            print("Fault network cases skipped: they need root, iproute2 and sshd")
            return false
        }
        return true
    }()

    let net: NetNS
    let sshd: SSHD
    let pair: WalmgrPair
    private(set) var transcript: [String] = []
    private var mounts: [String] = []

    /// Creates the namespace, a (not yet started) sshd inside it, and the master and inis.
    /// - Parameter beforeSSHD: runs before sshd starts (mounts made later may not be visible
    ///   inside the namespace's own mount table).
    init(binDir: String, beforeSSHD: (FaultLab) async throws -> Void = { _ in }) async throws {
        net = try await NetNS()
        do {
            sshd = try await SSHD(host: net.slaveAddress, launcher: net.launcher)
            let options = (sshd.sshOptions + Self.fastLiveness).map(ShellWords.quote)
                .joined(separator: " ")
            pair = try await WalmgrPair(
                binDir: binDir, sshd: sshd,
                masterExtra: "ssh_options = \(options)\nlogfile = %(config_dir)s/master.log\n",
                slaveExtra: "primary_conninfo = host=\(net.masterAddress) user=postgres "
                    + "password=\(Self.secret)\nlogfile = %(config_dir)s/slave.log\n")
            try appendMasterDB()
        } catch {
            net.destroy()
            throw error
        }
        try await beforeSSHD(self)
        try await sshd.start()
    }

    deinit { destroy() }

    /// Puts `password=` into master_db (the harness's conninfo, trust auth ignores it).
    private func appendMasterDB() throws {
        let text = try String(contentsOfFile: pair.masterIni, encoding: .utf8)
        let line = "\nmaster_db = \(pair.master.conninfo) password=\(Self.secret)\n"
        try (text + line).write(toFile: pair.masterIni, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(pair.masterIni, mode: 0o644)
    }

    /// Closes the ssh master, stops sshd and the master, unmounts, removes the namespace.
    func destroy() {
        closeSSHMasterSync()
        sshd.destroy()
        pair.master.stop(mode: "immediate")
        for mount in mounts.reversed() { TestEnv.runQuietly(["/usr/bin/umount", "-l", mount]) }
        mounts = []
        pair.destroy()
        net.destroy()
    }

    /// Mounts a tmpfs of `megabytes` owned by the server's user at `path` (unmounted on destroy).
    func mountTmpfs(_ path: String, megabytes: Int) async throws {
        let parent = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(parent, mode: 0o755)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let account = UserAccount(name: TestEnv.serverUserName)
        let owner = account.map { ",uid=\($0.uid),gid=\($0.gid)" } ?? ""
        try await TestEnv.run(
            Command(
                "/usr/bin/mount",
                ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700\(owner)", "tmpfs", path]))
        mounts.append(path)
    }

    /// Runs walmgr as the server's user and records its output for the secret check.
    func run(_ arguments: [String], cwd: String? = nil) async throws -> ProcessResult {
        let result = try await pair.run(arguments, cwd: cwd)
        transcript.append(result.output + "\n" + result.stderrTail)
        return result
    }

    /// xarchive of a file in the master's pg_wal, as PostgreSQL runs it.
    func xarchive(_ name: String) async throws -> ProcessResult {
        try await run(
            [pair.masterIni, "xarchive", "pg_wal/\(name)", name], cwd: pair.master.dataDir)
    }

    /// The ssh builder walmgr uses, for `-O exit`.
    private var ssh: SSH {
        let uid = UserAccount(name: TestEnv.serverUserName)?.uid ?? geteuid()
        return SSH(
            host: "\(sshd.user)@\(sshd.host)", options: sshd.sshOptions + Self.fastLiveness,
            controlDir: "/tmp/walmgr-ssh-\(uid)")
    }

    /// Ends walmgr's persistent ssh connection (it outlives a cut link or a stopped sshd).
    func closeSSHMaster() async throws {
        let command = Command(
            "ssh", ssh.baseArguments + ["-O", "exit", ssh.host], user: TestEnv.runAsUser)
        _ = try await TestEnv.runner.run(command, input: .none, timeout: .seconds(10))
    }

    private func closeSSHMasterSync() {
        TestEnv.runQuietly(
            TestEnv.asRunUser(["/usr/bin/ssh"] + ssh.baseArguments + ["-O", "exit", ssh.host]))
    }

    /// Fails the test when the secret appears in any recorded output or any walmgr log file.
    func expectSecretNeverPrinted(sourceLocation: SourceLocation = #_sourceLocation) {
        let logs = ["master.log", "slave.log"].compactMap {
            try? String(contentsOfFile: "\(pair.scratch)/\($0)", encoding: .utf8)
        }
        for (index, text) in (transcript + logs + [pair.master.logTail(lines: 10_000)]).enumerated()
        {
            #expect(
                !text.contains(Self.secret), "output \(index) prints the password:\n\(text)",
                sourceLocation: sourceLocation)
        }
    }

    /// Segment names in `dir` (no temp files, no history files).
    static func segments(in dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { WALName($0)?.kind == .segment }.sorted()
    }

    /// Every segment archived so far that is still in pg_wal must be byte-identical, and no temp
    /// file may be left in the archive; returns how many were compared.
    @discardableResult
    func expectArchiveMatchesPGWAL(sourceLocation: SourceLocation = #_sourceLocation) throws -> Int
    {
        var compared = 0
        for name in Self.segments(in: pair.completedWals) {
            let source = "\(pair.master.dataDir)/pg_wal/\(name)"
            guard FileManager.default.fileExists(atPath: source) else { continue }
            #expect(
                try FileCompare.identical(source, "\(pair.completedWals)/\(name)"),
                "\(name) differs from the master's copy", sourceLocation: sourceLocation)
            compared += 1
        }
        let temps =
            ((try? FileManager.default.contentsOfDirectory(atPath: pair.completedWals)) ?? [])
            .filter { $0.hasSuffix(".walmgr-tmp") }
        #expect(temps.isEmpty, "temp files left: \(temps)", sourceLocation: sourceLocation)
        return compared
    }

    /// Names of segments waiting in pg_wal/archive_status as `.ready`.
    func readySegments() -> [String] {
        let dir = "\(pair.master.dataDir)/pg_wal/archive_status"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".ready") }.map { String($0.dropLast(6)) }
            .filter { WALName($0)?.kind == .segment }.sorted()
    }
}
