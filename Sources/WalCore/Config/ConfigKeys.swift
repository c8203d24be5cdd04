/// The keys walmgr knows, per role: walmgr3's keys plus the extensions.
///
/// A key outside these lists gets a warning (a typo is likely); keys in ``ignored`` are accepted
/// for compatibility with walmgr3 configs but have no effect.
public enum ConfigKeys {
    /// Keys both roles accept.
    public static let common: [String] = [
        // Built-in variables a file may also set.
        "job_name", "service_name", "host_name", "config_dir", "config_file",
        // Logging and daemon.
        "logfile", "pidfile", "use_skylog",
        // The slave's directory layout.
        "walmgr_data", "completed_wals", "partial_wals", "full_backup", "config_backup",
        // Transport and remote calls.
        "ssh_options", "ssh_reuse_connection", "slave_walmgr",
        // WAL storage, retention and streaming.
        "compress_method", "compress_level", "compress_threads", "keep_backups",
        "backup_incremental",
        "primary_conninfo", "master_db", "pg_bin", "use_replication_slot", "replication_slot_name",
        // status / check thresholds.
        "status_max_archive_age", "status_max_ready", "status_max_slot_retained_mb",
        // Object storage (completed_wals = s3://bucket/prefix).
        "s3_endpoint", "s3_region", "s3_uri_style", "s3_ca_file", "s3_credentials_file",
        "s3_profile",
    ]

    /// Keys only a master config uses.
    public static let master: [String] = [
        "master_data", "master_config", "master_bin", "master_restart_cmd",
        "slave", "slave_config", "loop_delay", "use_xlog_functions", "compression",
        "keep_symlinks", "hot_standby", "command_interval", "periodic_command",
        "archive_timeout", "wal_keep_size", "replication_user",
    ]

    /// Keys only a slave config uses, plus master-side keys a slave config may carry harmlessly.
    public static let slave: [String] = [
        "slave_data", "slave_bin", "slave_start_cmd", "slave_stop_cmd", "slave_config_dir",
        "slave_pg_xlog", "backup_datadir", "keep_old_datadirs", "archive_command", "slave_db",
        "boot_sync_quiet",
        "receive_conninfo", "receive_slot", "receive_synchronous", "receive_status_interval",
        "use_xlog_functions", "hot_standby", "keep_symlinks", "compression", "loop_delay",
    ]

    /// Keys that are accepted but have no effect (kept so walmgr3 configs load quietly).
    public static let ignored: Set<String> = ["use_skylog"]

    /// Master-side keys that a slave config may contain but that do nothing there.
    public static let ignoredOnSlave: Set<String> = [
        "use_xlog_functions", "hot_standby", "keep_symlinks", "compression", "loop_delay",
    ]

    /// Keys whose value is a local path, or `host:path`; a leading `~` is expanded.
    public static let pathKeys: Set<String> = [
        "logfile", "pidfile", "walmgr_data", "completed_wals", "partial_wals", "full_backup",
        "config_backup", "slave_walmgr", "pg_bin", "master_data", "master_config", "master_bin",
        "slave_config", "slave_data", "slave_bin", "slave_config_dir", "slave_pg_xlog",
        "s3_ca_file", "s3_credentials_file",
    ]

    /// Keys whose value is a command, split into argv with ``ShellWords/split(_:)``, never run
    /// through a shell.
    public static let commandKeys: Set<String> = [
        "master_restart_cmd", "slave_start_cmd", "slave_stop_cmd", "periodic_command",
        "archive_command",
    ]

    /// Every key a config of `role` accepts without a warning.
    public static func known(for role: Role) -> Set<String> {
        Set(common).union(role == .master ? master : slave)
    }

    /// A sample value for `key`, used in "add key = …" hints.
    public static func example(for key: String) -> String {
        switch key {
        case "master_data": "/path/to/pgdata"
        case "slave_data": "/var/lib/postgresql/16/main"
        case "walmgr_data": "/var/lib/walmgr"
        case "completed_wals": "%(walmgr_data)s/logs.complete"
        case "partial_wals": "%(walmgr_data)s/logs.partial"
        case "full_backup": "%(walmgr_data)s/data.master"
        case "config_backup": "%(walmgr_data)s/config.backup"
        case "master_db": "dbname=postgres host=/var/run/postgresql"
        case "primary_conninfo": "host=master.example.com user=replicator"
        case "slave": "standby.example.com"
        case "slave_config": "/etc/walmgr/wal-slave.ini"
        case "pidfile": "/var/run/walmgr/%(job_name)s.pid"
        case "logfile": "/var/log/walmgr/%(job_name)s.log"
        case "slave_start_cmd": "pg_ctlcluster 16 main start"
        case "slave_stop_cmd": "pg_ctlcluster 16 main stop"
        case "master_restart_cmd": "pg_ctlcluster 16 main restart"
        case "pg_bin", "master_bin", "slave_bin": "/usr/lib/postgresql/16/bin"
        default: "<value>"
        }
    }
}
