/// The configs `--init-master` and `--init-slave` write (pure renderers).
enum InitTemplates {
    static func master(
        slave: String, pgdata: String, configDir: String, walmgr: String, home: String
    )
        -> String
    {
        """
        # Written by walmgr --init-master. Every key is explained in examples/wal-master.ini.
        [walmgr]
        job_name             = wal-master
        logfile              = %(config_dir)s/%(job_name)s.log
        pidfile              = %(config_dir)s/%(job_name)s.pid
        use_skylog           = 0

        master_db            = dbname=postgres
        master_data          = \(pgdata)
        master_config        = %(master_data)s/postgresql.conf
        # master_bin         = /usr/lib/postgresql/16/bin
        # master_restart_cmd = pg_ctlcluster 16 main restart

        slave                = \(slave)
        slave_config         = \(configDir)/wal-slave.ini
        slave_walmgr         = \(walmgr)
        # ssh_options        = -p 22 -i ~/.ssh/id_ed25519

        walmgr_data          = \(home)/walshipping
        completed_wals       = %(walmgr_data)s/logs.complete
        partial_wals         = %(walmgr_data)s/logs.partial
        full_backup          = %(walmgr_data)s/data.master
        config_backup        = %(walmgr_data)s/config.backup

        keep_backups         = 0
        archive_timeout      = 60
        loop_delay           = 10.0
        use_xlog_functions   = 1
        compression          = 0

        """
    }

    static func slave(pgdata: String, walmgrData: String, primaryConninfo: String?) -> String {
        let conninfo =
            primaryConninfo.map { "primary_conninfo     = \($0)" }
            ?? "# primary_conninfo   = host=master port=5432 user=postgres"
        return """
            # Written by walmgr --init-slave. Every key is explained in examples/wal-slave.ini.
            [walmgr]
            job_name             = wal-slave
            logfile              = %(config_dir)s/%(job_name)s.log
            pidfile              = %(config_dir)s/%(job_name)s.pid

            slave_data           = \(pgdata)
            slave_config_dir     = %(slave_data)s
            # slave_bin          = /usr/lib/postgresql/16/bin
            # slave_start_cmd    = pg_ctlcluster 16 main start
            # slave_stop_cmd     = pg_ctlcluster 16 main stop

            walmgr_data          = \(walmgrData)
            completed_wals       = %(walmgr_data)s/logs.complete
            partial_wals         = %(walmgr_data)s/logs.partial
            full_backup          = %(walmgr_data)s/data.master
            config_backup        = %(walmgr_data)s/config.backup

            backup_datadir       = yes
            keep_backups         = 0
            \(conninfo)

            """
    }
}
