import Foundation

@testable import WalCore

/// Helpers for the backup tests: pgbench, listbackups, recovering a copy of a backup.
extension WalmgrPair {
    /// walmgr as the server's user with extra environment (e.g. a PATH with a slow rsync).
    func walmgrCommand(_ arguments: [String], environment: [String: String] = [:]) -> Command {
        Command(
            walmgr, arguments, environment: environment, workingDirectory: scratch,
            user: TestEnv.runAsUser)
    }

    /// `walmgr INI backup`, failing the test with walmgr's stderr when it does not exit 0.
    func backup(_ ini: String? = nil) async throws {
        let result = try await run([ini ?? masterIni, "backup"])
        guard result.succeeded else {
            throw HarnessError("backup failed (\(result.statusText)):\n\(result.stderrTail)")
        }
    }

    /// `listbackups --json` through `ini`, decoded.
    func listBackups(_ ini: String) async throws -> [BackupManifest] {
        let result = try await run([ini, "listbackups", "--json"])
        guard result.succeeded else {
            throw HarnessError("listbackups failed: \(result.stderrTail)")
        }
        return try JSONDecoder().decode([BackupManifest].self, from: Data(result.stdout))
    }

    /// Switches WAL and waits until the segment the switch completed is archived: the one holding
    /// the byte before pg_switch_wal()'s result (PG 18's pg_walfile_name no longer steps back at
    /// a segment boundary).
    func switchWAL() async throws {
        let name = try await master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
        try await waitArchived(name)
    }

    /// pgbench against the master.
    func pgbenchCommand(_ arguments: [String]) -> Command {
        let args = ["-h", master.socketDir, "-p", "\(master.port)", "-U", "postgres"] + arguments
        return master.pgCommand("pgbench", args + ["postgres"])
    }

    /// Runs pgbench against the master.
    func pgbench(_ arguments: [String]) async throws {
        try await TestEnv.run(pgbenchCommand(arguments), timeout: .seconds(300))
    }

    /// A directory owned by the server's user.
    func ownedDir(_ name: String) throws -> String {
        let path = "\(scratch)/\(name)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(path, mode: 0o700)
        return path
    }

    /// Copies a backup dir and starts a server on it that recovers from completed_wals to the
    /// end of the archive and is promoted (see ``PGCluster/recovered(from:like:scratch:archive:)``).
    func recoverCopy(of backup: String) async throws -> PGCluster {
        try await PGCluster.recovered(
            from: backup, like: master, scratch: scratch, archive: completedWals)
    }

    /// Waits until no session of the master runs a backup function any more.
    func waitNoBackupSession() async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let n = try await master.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    + "AND (query ILIKE '%backup_start%' OR query ILIKE '%start_backup%')")
            if n == "0" { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

extension PGCluster {
    /// Copies a backup dir to `scratch`/recovered and starts a server on it that recovers from
    /// `archive` to its end and is promoted; tablespace_map is pointed at the copied
    /// tablespaces. The caller destroys the result; a server that fails to recover is stopped
    /// here.
    static func recovered(
        from backup: String, like master: PGCluster, scratch: String, archive: String
    ) async throws -> PGCluster {
        let dir = "\(scratch)/recovered"
        try await TestEnv.run(Command("cp", ["-a", backup, dir], user: TestEnv.runAsUser))
        let mapPath = "\(dir)/tablespace_map"
        if let map = try? String(contentsOfFile: mapPath, encoding: .utf8) {
            let lines = map.split(separator: "\n").map { line in
                let oid = line.split(separator: " ").first.map(String.init) ?? ""
                return "\(oid) \(dir)/\(BackupCopy.tablespaceDir)/\(oid)"
            }
            try (lines.joined(separator: "\n") + "\n").write(
                toFile: mapPath, atomically: false, encoding: .utf8)
        }
        let port = try TestEnv.freePort()
        let cluster = PGCluster(
            attaching: dir, binDir: master.binDir, port: port, scratch: scratch,
            version: master.version)
        try cluster.appendConf(
            """
            port = \(port)
            archive_mode = off
            hot_standby = on
            restore_command = 'cp "\(archive)/%f" "%p"'
            """)
        _ = FileManager.default.createFile(atPath: "\(dir)/recovery.signal", contents: Data())
        try TestEnv.chownToRunAsUser("\(dir)/recovery.signal", mode: 0o600)
        do {
            try await cluster.start()
            let deadline = ContinuousClock.now + .seconds(60)
            while try await cluster.psql("SELECT pg_is_in_recovery()") == "t" {
                guard ContinuousClock.now < deadline else {
                    throw HarnessError(
                        "the recovered copy did not finish recovery:\n\(cluster.logTail())")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            cluster.destroy()
            throw error
        }
        return cluster
    }
}
