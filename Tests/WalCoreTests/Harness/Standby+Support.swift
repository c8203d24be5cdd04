import Foundation

@testable import WalCore

/// A master, a slave config for a standby on another port, and a backup maker that does not
/// need `walmgr backup`: pg_backup_start, copy, pg_backup_stop, backup_label, manifest.
final class StandbyLab {
    let master: PGCluster
    let scratch: String
    let walmgr: String
    let slaveIni: String
    let walmgrData: String
    let standbyData: String
    let standbyPort: Int
    var completedWals: String { "\(walmgrData)/logs.complete" }
    var fullBackup: String { "\(walmgrData)/data.master" }
    /// The restored standby, attached so teardown always stops it.
    private(set) var standby: PGCluster?

    init(
        binDir: String, streaming: Bool, slaveExtra: String = "", masterExtra: String = ""
    ) async throws {
        scratch = try TestEnv.scratchDir(prefix: "wmr")
        master = try await PGCluster(binDir: binDir, scratch: scratch, name: "master")
        walmgr = try TestEnv.walmgrBinary(in: scratch)
        walmgrData = "\(scratch)/walshipping"
        standbyData = "\(scratch)/standby"
        standbyPort = try TestEnv.freePort()
        slaveIni = "\(scratch)/wal-slave.ini"
        let masterIni = "\(scratch)/wal-master.ini"
        try TestEnv.writeOwned(
            masterIni,
            "[walmgr]\nmaster_data = \(master.dataDir)\nmaster_config = \(master.dataDir)/postgresql.conf\n"
                + "walmgr_data = \(walmgrData)\nslave_config = \(slaveIni)\n\(masterExtra)")
        let conninfo = streaming ? "primary_conninfo = \(master.tcpConninfo)\n" : ""
        try TestEnv.writeOwned(
            slaveIni,
            "[walmgr]\nslave_data = \(standbyData)\nslave_bin = \(binDir)\n"
                + "slave_config_dir = %(slave_data)s\n"
                + "walmgr_data = \(walmgrData)\nbackup_datadir = no\n\(conninfo)\(slaveExtra)\n")
        for dir in ["", "/logs.complete", "/logs.partial", "/config.backup"] {
            try FileManager.default.createDirectory(
                atPath: walmgrData + dir, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(walmgrData + dir, mode: 0o700)
        }
        let archive = [walmgr, masterIni, "xarchive", "%p", "%f"].map(ShellWords.quote)
            .joined(separator: " ")
        try master.appendConf(
            "archive_mode = on\narchive_command = \(PostgresConf.quote(archive))")
        try await master.start()
    }

    deinit { destroy() }

    func destroy() {
        standby?.stop(mode: "immediate")
        master.stop(mode: "immediate")
        // The standby archives too once `boot` promoted it.
        for log in [master.logFile, "\(standbyData)/log/walmgr-start.log"] {
            ArchiveFailures.report(logFile: log)
        }
        TestEnv.removeScratch(scratch)
    }

    /// Runs the copied walmgr with the slave ini as the server's user.
    func walmgr(_ arguments: [String]) async throws -> ProcessResult {
        let command = Command(
            walmgr, [slaveIni] + arguments, workingDirectory: scratch, user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(180))
    }

    /// Switches the master's WAL and returns the segment the switch completed: the one holding
    /// the byte before pg_switch_wal()'s result (PG 18's pg_walfile_name no longer steps back at
    /// a segment boundary).
    func switchWAL() async throws -> String {
        try await master.psql("SELECT pg_walfile_name(pg_switch_wal() - 1)")
    }

    /// Waits until `segment` (from ``switchWAL()``; `what` says what it holds) is in
    /// completed_wals. Not the segment before pg_current_wal_lsn(): up to 15 s after a switch
    /// the bgwriter writes a running-xacts record, which moves that position into the next
    /// segment, which nothing archives. A CI run under load waited for it until its timeout
    /// (with `pg_stat_archiver` asked each time: not one archive attempt had failed). The
    /// timeout message has the archiver's statistics and the failed attempts' messages.
    func waitArchived(_ segment: String, _ what: String) async throws {
        var archiver = ""
        do {
            try await waitUntil("the master archived \(segment), \(what)") {
                archiver = try await master.psql(
                    "SELECT coalesce(last_archived_wal, '-') || ' failed ' || failed_count || ' '"
                        + " || coalesce(last_failed_wal, '-') FROM pg_stat_archiver")
                return try FileManager.default.contentsOfDirectory(atPath: completedWals)
                    .contains { $0.hasPrefix(segment) }
            }
        } catch {
            let failed = ArchiveFailures.attempts(inLogFile: master.logFile)
            throw HarnessError(
                "\(error); pg_stat_archiver: \(archiver)\n" + failed.joined(separator: "\n--\n"))
        }
    }

    /// Takes a base backup into data.master (the old one becomes data.master.0) and saves the
    /// master's config files, with the standby's port, into config.backup.
    func makeBackup(label labelName: String = "test") async throws {
        let inProgress = "\(fullBackup).inprogress"
        let db = try PGConnection(conninfo: master.conninfo)
        try db.execute("SELECT pg_backup_start($1, true)", [labelName])
        // rsync exits 24 when files vanish mid-copy (PostgreSQL removes temp files): fine here.
        let copy = Command(
            "rsync",
            [
                "-a", "--exclude=/pg_wal/*", "--exclude=/postmaster.*", "--exclude=/pg_replslot/*",
                "--exclude=/pg_stat_tmp/*", "\(master.dataDir)/", inProgress,
            ], user: TestEnv.runAsUser)
        let copied = try await TestEnv.runner.run(copy)
        guard copied.status == 0 || copied.status == 24 else {
            throw HarnessError.failed(copy, copied)
        }
        try FileManager.default.createDirectory(
            atPath: "\(inProgress)/pg_wal/archive_status", withIntermediateDirectories: true)
        let stop = try db.query(
            "SELECT lsn::text, labelfile, pg_walfile_name(lsn) AS wal FROM pg_backup_stop(true)")
        // Recorded after the stop, as BackupRun does: a PITR target must lie after it.
        let stopTime = BackupManifest.isoTime(Date())
        let labelText = stop[0, "labelfile"] ?? ""
        try labelText.write(toFile: "\(inProgress)/backup_label", atomically: true, encoding: .utf8)
        let label = BackupLabel.parse(labelText)
        let manifest = BackupManifest(
            name: "data.master", label: labelName, status: "complete", startTime: "",
            stopTime: stopTime, startLSN: label.startLSN?.description ?? "",
            stopLSN: stop[0, "lsn"] ?? "",
            startWAL: label.startWAL ?? "", stopWAL: stop[0, "wal"] ?? "",
            timeline: label.timeline ?? 1,
            pgVersion: master.version.num, systemIdentifier: "", sizeBytes: 0, fileCount: 0,
            tablespaces: [], takenFrom: "master")
        try Data(manifest.encoded()).write(
            to: URL(fileURLWithPath: "\(inProgress)/\(BackupManifest.fileName)"))
        if FileManager.default.fileExists(atPath: fullBackup) {
            try? FileManager.default.removeItem(atPath: "\(fullBackup).0")
            try FileManager.default.moveItem(atPath: fullBackup, toPath: "\(fullBackup).0")
        }
        try FileManager.default.moveItem(atPath: inProgress, toPath: fullBackup)
        try await TestEnv.run(Command("chown", ["-R", TestEnv.serverUserName, walmgrData]))
        try saveConfig()
    }

    func saveConfig() throws {
        for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
            var text = try String(contentsOfFile: "\(master.dataDir)/\(name)", encoding: .utf8)
            if name == "postgresql.conf" { text += "\nport = \(standbyPort)\nhot_standby = on\n" }
            try TestEnv.writeOwned("\(walmgrData)/config.backup/\(name)", text)
        }
    }

    /// Runs `walmgr restore` and attaches the standby (so teardown stops it); fails the test
    /// with restore's output and the server log when restore fails.
    @discardableResult
    func restoreStandby() async throws -> PGCluster {
        let restore = try await walmgr(["restore"])
        let standby = attachStandby()
        guard restore.succeeded else {
            throw HarnessError("restore: \(restore.stderrTail)\n\(standby.logTail())")
        }
        return standby
    }

    /// Attaches the restored standby so teardown stops it.
    func attachStandby() -> PGCluster {
        if let standby { return standby }
        let cluster = PGCluster(
            attaching: standbyData, binDir: master.binDir, port: standbyPort, scratch: scratch,
            version: master.version)
        standby = cluster
        return cluster
    }
}
