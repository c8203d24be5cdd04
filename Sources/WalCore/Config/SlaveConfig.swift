/// The settings of a slave (standby) config: one without `master_data`.
///
/// Command values (`slave_start_cmd`, `slave_stop_cmd`, `archive_command`) are argv arrays split
/// with ``ShellWords/split(_:)``; walmgr runs them directly, never through a shell.
public struct SlaveConfig: Sendable, Equatable {
    /// Keys both roles share.
    public let common: CommonConfig
    /// `slave_data`: the standby's data directory ("" when missing; `need` reports it).
    public let slaveData: String
    /// `slave_bin`: PostgreSQL's bin directory on the standby; falls back to `pg_bin`.
    public let slaveBin: String?
    /// `slave_start_cmd`: starts the standby, e.g. `pg_ctlcluster 16 main start`.
    public let slaveStartCmd: [String]?
    /// `slave_stop_cmd`: stops the standby, e.g. `pg_ctlcluster 16 main stop`.
    public let slaveStopCmd: [String]?
    /// `slave_config_dir`: where postgresql.conf and pg_hba.conf go on restore; default
    /// `slave_data`.
    public let slaveConfigDir: String
    /// True when the ini sets `slave_config_dir`: only then does a first restore put the
    /// master's config files from config_backup in place (walmgr3's rule).
    public let slaveConfigDirIsSet: Bool
    /// `slave_pg_xlog`: put pg_wal elsewhere and symlink it on restore.
    public let slavePgXlog: String?
    /// `backup_datadir`: on restore, keep the old data dir as `<slave_data>.N` (default true).
    public let backupDatadir: Bool
    /// `keep_old_datadirs`: how many `<slave_data>.N` restore keeps (default 3).
    public let keepOldDatadirs: Int
    /// The default of `keep_old_datadirs`.
    public static let defaultKeepOldDatadirs = 3
    /// `archive_command`: run with `BACKUPDIR` set on a backup before rotation deletes it.
    public let archiveCommand: [String]?
    /// `master_db`: optional master conninfo, used by a standby backup to switch WAL.
    public let masterDb: String?
    /// `slave_db`: conninfo of the standby itself, used by a standby backup (default
    /// `dbname=postgres` on libpq's default socket).
    public let slaveDb: String
    /// `boot_sync_quiet`: seconds partial_wals must be unchanged before boot promotes (a
    /// syncdaemon may still ship WAL); 0 does not wait. Boot gives up after 10 times as long.
    public let bootSyncQuiet: Int
    /// The `receive_*` keys of the streaming WAL receiver.
    public let receive: ReceiveSettings

    /// Creates slave settings; `slaveBin` falls back to `common.pgBin`, `slaveConfigDir` to
    /// `slaveData`.
    public init(
        common: CommonConfig, slaveData: String, slaveBin: String? = nil,
        slaveStartCmd: [String]? = nil, slaveStopCmd: [String]? = nil,
        slaveConfigDir: String? = nil, slavePgXlog: String? = nil, backupDatadir: Bool = true,
        keepOldDatadirs: Int = SlaveConfig.defaultKeepOldDatadirs,
        archiveCommand: [String]? = nil, masterDb: String? = nil, slaveDb: String? = nil,
        bootSyncQuiet: Int = 3,
        receive: ReceiveSettings? = nil
    ) {
        self.common = common
        self.slaveData = slaveData
        self.slaveBin = slaveBin ?? common.pgBin
        self.slaveStartCmd = slaveStartCmd
        self.slaveStopCmd = slaveStopCmd
        self.slaveConfigDir = slaveConfigDir ?? slaveData
        self.slaveConfigDirIsSet = slaveConfigDir != nil
        self.slavePgXlog = slavePgXlog
        self.backupDatadir = backupDatadir
        self.keepOldDatadirs = keepOldDatadirs
        self.archiveCommand = archiveCommand
        self.masterDb = masterDb
        self.slaveDb = slaveDb ?? "dbname=postgres"
        self.bootSyncQuiet = bootSyncQuiet
        self.receive = receive ?? ReceiveSettings(conninfo: common.primaryConninfo)
    }

    /// Reads the slave keys; the master-side keys a slave accepts are not read at all.
    init(_ r: ConfigReader, common: CommonConfig) throws(ConfigError) {
        self.init(
            common: common,
            slaveData: try r.path("slave_data") ?? "",
            slaveBin: try r.path("slave_bin"),
            slaveStartCmd: try r.words("slave_start_cmd"),
            slaveStopCmd: try r.words("slave_stop_cmd"),
            slaveConfigDir: try r.path("slave_config_dir"),
            slavePgXlog: try r.path("slave_pg_xlog"),
            backupDatadir: try r.bool("backup_datadir", default: true),
            keepOldDatadirs: try r.int("keep_old_datadirs", minimum: 1)
                ?? Self.defaultKeepOldDatadirs,
            archiveCommand: try r.words("archive_command"),
            masterDb: try r.string("master_db"),
            slaveDb: try r.string("slave_db"),
            bootSyncQuiet: try r.int("boot_sync_quiet", maximum: 3600) ?? 3,
            receive: try ReceiveSettings(r, common: common)
        )
    }
}
