/// The settings of a master config (one that has `master_data`).
///
/// Command values (`master_restart_cmd`, `periodic_command`) are argv arrays split with
/// ``ShellWords/split(_:)``; walmgr runs them directly, never through a shell.
public struct MasterConfig: Sendable, Equatable {
    /// Keys both roles share.
    public let common: CommonConfig
    /// `master_db`: conninfo of the master, e.g. `dbname=postgres host=/var/run/postgresql`.
    public let masterDb: String?
    /// `master_data`: the master's data directory ("" when set empty; `need` reports it).
    public let masterData: String
    /// `master_config`: the postgresql.conf setup edits; default `<master_data>/postgresql.conf`.
    public let masterConfig: String
    /// `master_bin`: PostgreSQL's bin directory on the master; falls back to `pg_bin`.
    public let masterBin: String?
    /// `master_restart_cmd`: restarts the master after setup/stop; nil means reload only.
    public let masterRestartCmd: [String]?
    /// `slave`: the standby's ssh host; nil when empty (the slave is local). walmgr3's
    /// `host:/path` form keeps only the host here (the path reaches the directory keys through
    /// `%(slave)s` interpolation).
    public let slave: String?
    /// `slave_config`: the path of wal-slave.ini on the slave, for remote calls.
    public let slaveConfig: String?
    /// `loop_delay`: seconds between syncdaemon rounds (default 10).
    public let loopDelay: Double
    /// `use_xlog_functions`: sync partial WAL via SQL functions (default true).
    public let useXlogFunctions: Bool
    /// `compression`: pass -z to rsync (default false).
    public let compression: Bool
    /// `keep_symlinks`: keep pg_wal/log symlinks in the backup (default true).
    public let keepSymlinks: Bool
    /// `hot_standby`: setup makes wal_level at least replica (default true).
    public let hotStandby: Bool
    /// `command_interval`: seconds between `periodic_command` runs; 0 disables (default 0).
    public let commandInterval: Int
    /// `periodic_command`: run from xarchive at most every `command_interval` seconds.
    public let periodicCommand: [String]?
    /// `archive_timeout`: a value setup writes to postgresql.conf, e.g. `60s`.
    public let archiveTimeout: String?
    /// `wal_keep_size`: megabytes of WAL setup asks the master to keep.
    public let walKeepSize: Int?
    /// `replication_user`: the role the standby streams as, for setup's pg_hba check; nil means
    /// `user` of `primary_conninfo`, else `postgres`.
    public let replicationUser: String?

    /// Whether slave-side commands run as a local subprocess: `slave` empty or `localhost`,
    /// and no `host:` in completed_wals (``slaveDirectoryHost``).
    public var slaveIsLocal: Bool { slaveDirectoryHost == nil }

    /// Creates master settings; `masterConfig` defaults under `masterData`, `masterBin` to
    /// `common.pgBin`.
    public init(
        common: CommonConfig, masterData: String, masterDb: String? = nil,
        masterConfig: String? = nil, masterBin: String? = nil,
        masterRestartCmd: [String]? = nil, slave: String? = nil, slaveConfig: String? = nil,
        loopDelay: Double = 10, useXlogFunctions: Bool = true, compression: Bool = false,
        keepSymlinks: Bool = true, hotStandby: Bool = true, commandInterval: Int = 0,
        periodicCommand: [String]? = nil, archiveTimeout: String? = nil, walKeepSize: Int? = nil,
        replicationUser: String? = nil
    ) {
        self.common = common
        self.masterDb = masterDb
        self.masterData = masterData
        self.masterConfig =
            masterConfig
            ?? (masterData.isEmpty ? "" : masterData.configJoined("postgresql.conf"))
        self.masterBin = masterBin ?? common.pgBin
        self.masterRestartCmd = masterRestartCmd
        self.slave = slave.flatMap(Self.slaveHost)
        self.slaveConfig = slaveConfig
        self.loopDelay = loopDelay
        self.useXlogFunctions = useXlogFunctions
        self.compression = compression
        self.keepSymlinks = keepSymlinks
        self.hotStandby = hotStandby
        self.commandInterval = commandInterval
        self.periodicCommand = periodicCommand
        self.archiveTimeout = archiveTimeout
        self.walKeepSize = walKeepSize
        self.replicationUser = replicationUser
    }

    /// Reads the master keys.
    init(_ r: ConfigReader, common: CommonConfig) throws(ConfigError) {
        self.init(
            common: common,
            masterData: try r.path("master_data") ?? "",
            masterDb: try r.string("master_db"),
            masterConfig: try r.path("master_config"),
            masterBin: try r.path("master_bin"),
            masterRestartCmd: try r.words("master_restart_cmd"),
            slave: try r.sshHost("slave"),
            slaveConfig: try r.path("slave_config"),
            loopDelay: try r.positiveDouble("loop_delay") ?? 10,
            useXlogFunctions: try r.bool("use_xlog_functions", default: true),
            compression: try r.bool("compression", default: false),
            keepSymlinks: try r.bool("keep_symlinks", default: true),
            hotStandby: try r.bool("hot_standby", default: true),
            commandInterval: try r.int("command_interval") ?? 0,
            periodicCommand: try r.words("periodic_command"),
            archiveTimeout: try r.string("archive_timeout"),
            walKeepSize: try r.int("wal_keep_size"),
            replicationUser: try r.string("replication_user")
        )
    }
}

extension String {
    /// This path with `name` appended after exactly one `/`.
    func configJoined(_ name: String) -> String {
        hasSuffix("/") ? self + name : self + "/" + name
    }
}
