import Foundation

/// One non-exclusive base backup on one PostgreSQL session: start and stop run on the same
/// connection, and closing it (on any failure) makes the server abort the backup.
struct BackupSession {
    /// What pg_backup_stop returned.
    struct Stop {
        /// The stop LSN.
        let lsn: LSN
        /// The backup_label content, byte for byte.
        let labelFile: String
        /// The tablespace_map content ("" when there are no tablespaces).
        let spcmapFile: String
    }

    let db: PGConnection
    let version: ServerVersion

    init(db: PGConnection) {
        self.db = db
        version = db.serverVersion
    }

    /// A master backup's opening, for either repository: connect to `master_db`, check that
    /// archiving goes through this walmgr, read the segment size. The caller closes the
    /// connection (closing it aborts a backup still in progress on the server).
    static func openOnMaster(_ config: MasterConfig) throws -> (
        session: BackupSession, segmentSize: UInt64
    ) {
        let conninfo = try config.need(config.masterDb, key: "master_db", for: "backup")
        let session = BackupSession(db: try PGConnection(conninfo: conninfo))
        do {
            try session.checkArchiving(
                walmgr: CommandContext.executablePath, configFile: config.common.configFile)
            return (session, try session.walSegmentSize())
        } catch {
            session.db.close()
            throw error
        }
    }

    /// Fails unless archive_mode is on and archive_command runs walmgr's xarchive: otherwise
    /// pg_backup_stop(true) would wait for archiving forever.
    func checkArchiving(walmgr: String, configFile: String) throws {
        let mode = try setting("archive_mode")
        guard mode == "on" || mode == "always" else {
            throw BackupError.archivingOff(
                setting: "archive_mode", value: mode,
                fix: "Run `walmgr \(configFile) setup` and restart PostgreSQL")
        }
        let command = try setting("archive_command")
        let name = (walmgr as NSString).lastPathComponent
        guard command.contains("xarchive"),
            command.contains(walmgr) || command.contains(configFile) || command.contains(name)
        else {
            throw BackupError.archivingOff(
                setting: "archive_command", value: "'\(command)'",
                fix: "Run `walmgr \(configFile) setup` (it sets archive_command to walmgr "
                    + "xarchive) and reload PostgreSQL")
        }
    }

    /// A setting's value from pg_settings ("" when unknown).
    func setting(_ name: String) throws -> String {
        try db.scalar("SELECT setting FROM pg_settings WHERE name = $1", [name]) ?? ""
    }

    /// `wal_segment_size` in bytes.
    func walSegmentSize() throws -> UInt64 {
        let value = try db.scalar(
            "SELECT setting::bigint * CASE unit WHEN '8kB' THEN 8192 WHEN 'MB' THEN 1048576 "
                + "ELSE 1 END FROM pg_settings WHERE name = 'wal_segment_size'")
        // Checked here once: every segment computation after it relies on a possible size.
        guard let size = value.flatMap({ UInt64($0) }), WALSegment.isValidSize(size) else {
            throw BackupError.server(
                step: "reading wal_segment_size", detail: "got \(value ?? "nothing")")
        }
        return size
    }

    /// pg_control's system identifier.
    func systemIdentifier() throws -> String {
        try db.scalar("SELECT system_identifier::text FROM pg_control_system()") ?? ""
    }

    /// Starts the backup (fast checkpoint) and returns the start LSN.
    func start(label: String) throws -> LSN {
        let sql =
            version.usesBackupStartStop
            ? "SELECT pg_backup_start($1, true)::text"
            : "SELECT pg_start_backup($1, true, false)::text"
        let text = try db.scalar(sql, [label])
        guard let lsn = text.flatMap(LSN.init) else {
            throw BackupError.server(
                step: version.backupStartFunction, detail: "returned \(text ?? "nothing")")
        }
        return lsn
    }

    /// Stops the backup. With `waitForArchive` false the server still switches WAL (on a
    /// master) but returns at once; the caller then waits for the archive itself, polling faster
    /// than the server's one-second loop.
    func stop(waitForArchive: Bool = true) throws -> Stop {
        let wait = waitForArchive ? "true" : "false"
        let sql =
            version.usesBackupStartStop
            ? "SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(\(wait))"
            : "SELECT lsn::text, labelfile, spcmapfile FROM pg_stop_backup(false, \(wait))"
        guard db.isAlive else {
            throw BackupError.server(
                step: version.backupStopFunction,
                detail: "the session that started the backup was lost, so the server aborted it")
        }
        let result = try db.query(sql)
        guard result.count == 1, let lsn = result[0, "lsn"].flatMap(LSN.init),
            let label = result[0, "labelfile"]
        else {
            throw BackupError.server(step: version.backupStopFunction, detail: "returned no row")
        }
        return Stop(lsn: lsn, labelFile: label, spcmapFile: result[0, "spcmapfile"] ?? "")
    }

    /// The SHOWn config file paths (config_file, hba_file, ident_file).
    func configFiles() throws -> [String] {
        try ["config_file", "hba_file", "ident_file"].map(setting).filter { !$0.isEmpty }
    }
}
