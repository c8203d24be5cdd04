import Foundation

@testable import WalCore

/// A scratch dir with the built walmgr and a master or slave ini that needs no server: the
/// master's database is an unused port, so syncdaemon's rounds fail and it keeps looping.
struct DaemonLab {
    let dir: String
    let walmgr: String
    let ini: String
    let role: Role
    var completedWals: String { "\(dir)/walshipping/logs.complete" }

    init(role: Role, extra: String = "") throws {
        dir = try TestEnv.scratchDir(prefix: "wmd")
        walmgr = try TestEnv.walmgrBinary(in: dir)
        ini = "\(dir)/wal-\(role.rawValue).ini"
        self.role = role
        for sub in ["walshipping", "walshipping/logs.complete", "pgdata"] {
            try FileManager.default.createDirectory(
                atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser("\(dir)/\(sub)", mode: 0o700)
        }
        try writeIni(loopDelay: "1", extra: extra)
    }

    /// (Re)writes the ini.
    func writeIni(loopDelay: String, extra: String) throws {
        let roleLines =
            role == .master
            ? "master_data = \(dir)/pgdata\nmaster_db = host=127.0.0.1 port=\(try TestEnv.freePort()) "
                + "dbname=postgres connect_timeout=2\nloop_delay = \(loopDelay)\n"
            : "slave_data = \(dir)/standby\n"
        try TestEnv.writeOwned(
            ini,
            """
            [walmgr]
            job_name = daemonlab
            walmgr_data = \(dir)/walshipping
            completed_wals = %(walmgr_data)s/logs.complete
            partial_wals = %(walmgr_data)s/logs.partial
            full_backup = %(walmgr_data)s/data.master
            \(roleLines)\(extra)
            """)
    }

    func destroy() { TestEnv.removeScratch(dir) }

    /// Runs the copied walmgr as the server's user.
    func walmgr(_ arguments: [String], timeout: Duration = .seconds(60)) async throws
        -> ProcessResult
    {
        try await run(walmgr, arguments, timeout: timeout)
    }

    func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60))
        async throws -> ProcessResult
    {
        let command = Command(
            executable, arguments, workingDirectory: dir, user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: .none, timeout: timeout)
    }

    func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }
}
