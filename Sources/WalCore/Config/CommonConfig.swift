/// How archived WAL is compressed at rest and on the wire (`compress_method`).
public enum CompressMethod: String, Sendable, CaseIterable {
    /// Stored as is (walmgr3's behaviour).
    case none
    /// zstd; stored names get the suffix `.zst`.
    case zstd
    /// lz4; stored names get the suffix `.lz4`.
    case lz4
}

/// Settings both master and slave configs have.
public struct CommonConfig: Sendable, Equatable {
    /// The absolute path of the INI file.
    public let configFile: String
    /// `job_name`: names the log and pid files; defaults to the INI's base name.
    public let jobName: String
    /// `logfile`: where log lines go besides stderr.
    public let logfile: String?
    /// `pidfile`: the syncdaemon pid file.
    public let pidfile: String?
    /// `walmgr_data`: the slave's base directory (may be `host:path` on the master).
    public let walmgrData: String?
    /// `completed_wals`: archived WAL; default `<walmgr_data>/logs.complete`, "" when unknown.
    public let completedWals: String
    /// `partial_wals`: partial segments; default `<walmgr_data>/logs.partial`, "" when unknown.
    public let partialWals: String
    /// `full_backup`: the newest backup; default `<walmgr_data>/data.master`, "" when unknown.
    public let fullBackup: String
    /// `config_backup`: the master's config files; default `<walmgr_data>/config.backup`.
    public let configBackup: String
    /// `ssh_options`: extra ssh arguments, split like shell words.
    public let sshOptions: [String]
    /// `ssh_reuse_connection`: share one ssh connection through a control socket (default true).
    public let sshReuseConnection: Bool
    /// `slave_walmgr`: the walmgr binary on the slave; nil means this binary's path.
    public let slaveWalmgr: String?
    /// `compress_method`: none (default), zstd or lz4.
    public let compressMethod: CompressMethod
    /// `compress_level`: the compressor's level; nil means its default.
    public let compressLevel: Int?
    /// `compress_threads`: zstd worker threads; nil means the default (2 with 2+ cores).
    public let compressThreads: Int?
    /// `keep_backups`: how many older backups rotation keeps (default 0).
    public let keepBackups: Int
    /// `backup_incremental`: a backup hard-links the files unchanged since the previous complete
    /// backup instead of copying them again (default true; false forces a full copy).
    public let backupIncremental: Bool
    /// `primary_conninfo`: when set, a restored standby streams from the master.
    public let primaryConninfo: String?
    /// `pg_bin`: directory of pg_ctl, pg_controldata, pg_archivecleanup; nil means PATH.
    public let pgBin: String?
    /// `status_max_archive_age`: seconds since the last archived WAL before status complains.
    public let statusMaxArchiveAgeSeconds: Int
    /// `status_max_ready`: `.ready` files in archive_status before status complains.
    public let statusMaxReadyFiles: Int
    /// `use_replication_slot`: restore creates a physical slot on the master (default false).
    public let useReplicationSlot: Bool
    /// `replication_slot_name`: default `job_name` lowercased, other characters turned to `_`.
    public let replicationSlotName: String
    /// `status_max_slot_retained_mb`: WAL a slot may hold back before status complains.
    public let statusMaxSlotRetainedMB: Int
    /// The `s3_*` keys, used when completed_wals is `s3://bucket/prefix`.
    public let s3: S3Settings

    /// Creates common settings; the WAL/backup directories default to subdirs of `walmgrData`.
    public init(
        configFile: String, jobName: String, logfile: String? = nil, pidfile: String? = nil,
        walmgrData: String? = nil, completedWals: String? = nil, partialWals: String? = nil,
        fullBackup: String? = nil, configBackup: String? = nil, sshOptions: [String] = [],
        sshReuseConnection: Bool = true, slaveWalmgr: String? = nil,
        compressMethod: CompressMethod = .none, compressLevel: Int? = nil,
        compressThreads: Int? = nil, keepBackups: Int = 0, backupIncremental: Bool = true,
        primaryConninfo: String? = nil, pgBin: String? = nil,
        statusMaxArchiveAgeSeconds: Int = 600, statusMaxReadyFiles: Int = 10,
        useReplicationSlot: Bool = false, replicationSlotName: String? = nil,
        statusMaxSlotRetainedMB: Int = 1024, s3: S3Settings = S3Settings()
    ) {
        func under(_ name: String) -> String {
            walmgrData?.configJoined(name) ?? ""
        }
        self.configFile = configFile
        self.jobName = jobName
        self.logfile = logfile
        self.pidfile = pidfile
        self.walmgrData = walmgrData
        self.completedWals = completedWals ?? under("logs.complete")
        self.partialWals = partialWals ?? under("logs.partial")
        self.fullBackup = fullBackup ?? under("data.master")
        self.configBackup = configBackup ?? under("config.backup")
        self.sshOptions = sshOptions
        self.sshReuseConnection = sshReuseConnection
        self.slaveWalmgr = slaveWalmgr
        self.compressMethod = compressMethod
        self.compressLevel = compressLevel
        self.compressThreads = compressThreads
        self.keepBackups = keepBackups
        self.backupIncremental = backupIncremental
        self.primaryConninfo = primaryConninfo
        self.pgBin = pgBin
        self.statusMaxArchiveAgeSeconds = statusMaxArchiveAgeSeconds
        self.statusMaxReadyFiles = statusMaxReadyFiles
        self.useReplicationSlot = useReplicationSlot
        self.replicationSlotName = replicationSlotName ?? Self.slotName(fromJobName: jobName)
        self.statusMaxSlotRetainedMB = statusMaxSlotRetainedMB
        self.s3 = s3
    }

    /// A valid slot name from a job name: lowercase, anything but `[a-z0-9_]` becomes `_`, at
    /// most 63 characters; `walmgr` when nothing is left.
    public static func slotName(fromJobName jobName: String) -> String {
        let cleaned = String(
            jobName.lowercased().map { ch -> Character in
                ch.isASCII && (ch.isLetter || ch.isNumber) ? ch : "_"
            }.prefix(63))
        return cleaned.isEmpty ? "walmgr" : cleaned
    }

    /// Reads the common keys.
    init(_ r: ConfigReader, configFile: String) throws(ConfigError) {
        self.init(
            configFile: configFile,
            jobName: try r.string("job_name") ?? r.interpolation.builtins["job_name"] ?? "",
            logfile: try r.path("logfile"),
            pidfile: try r.path("pidfile"),
            walmgrData: try r.location("walmgr_data"),
            completedWals: try r.location("completed_wals"),
            partialWals: try r.location("partial_wals"),
            fullBackup: try r.location("full_backup"),
            configBackup: try r.location("config_backup"),
            sshOptions: try r.words("ssh_options") ?? [],
            sshReuseConnection: try r.bool("ssh_reuse_connection", default: true),
            slaveWalmgr: try r.path("slave_walmgr"),
            compressMethod: try r.choice("compress_method", default: CompressMethod.none),
            compressLevel: try r.signedInt("compress_level"),
            compressThreads: try r.int("compress_threads"),
            keepBackups: try r.int("keep_backups") ?? 0,
            backupIncremental: try r.bool("backup_incremental", default: true),
            primaryConninfo: try r.string("primary_conninfo"),
            pgBin: try r.path("pg_bin"),
            statusMaxArchiveAgeSeconds: try r.int("status_max_archive_age", minimum: 1) ?? 600,
            statusMaxReadyFiles: try r.int("status_max_ready", minimum: 1) ?? 10,
            useReplicationSlot: try r.bool("use_replication_slot", default: false),
            replicationSlotName: try r.string("replication_slot_name"),
            statusMaxSlotRetainedMB: try r.int("status_max_slot_retained_mb", minimum: 1) ?? 1024,
            s3: try S3Settings(r)
        )
    }
}
