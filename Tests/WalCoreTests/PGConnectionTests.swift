import Testing
import WalCore

@Suite("Conninfo")
struct ConninfoTests {
    @Test(arguments: [
        ("host=h password=secret port=5", "host=h password=******** port=5"),
        ("password = 'se cret' user=u", "password = ******** user=u"),
        ("user=u password='it\\'s' dbname=d", "user=u password=******** dbname=d"),
        ("password=", "password=********"),
        ("host=h", "host=h"),
        ("postgresql://u:secret@h:5432/db", "postgresql://u:********@h:5432/db"),
        (
            "postgres://u:p%40ss@h/db?password=x&sslmode=off",
            "postgres://u:********@h/db?password=********&sslmode=off"
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ])
    func masked(input: String, expected: String) {
        #expect(Conninfo.masked(input) == expected)
    }

    @Test func value() {
        let c = "host=/tmp/s  port = 5433 password='a \\'b\\' \\\\c' application_name=x"
        #expect(Conninfo.value("host", in: c) == "/tmp/s")
        #expect(Conninfo.value("port", in: c) == "5433")
        #expect(Conninfo.value("password", in: c) == "a 'b' \\c")
        #expect(Conninfo.value("dbname", in: c) == nil)
        #expect(Conninfo.value("port", in: "port=1 port=2") == "2")
        let uri = "postgresql://me:p%40ss@[::1]:6000/my%20db?sslmode=require"
        #expect(Conninfo.value("user", in: uri) == "me")
        #expect(Conninfo.value("password", in: uri) == "p@ss")
        #expect(Conninfo.value("host", in: uri) == "::1")
        #expect(Conninfo.value("port", in: uri) == "6000")
        #expect(Conninfo.value("dbname", in: uri) == "my db")
        #expect(Conninfo.value("sslmode", in: uri) == "require")
    }

    @Test func quoteValueRoundTrips() {
        for v in ["plain", "with space", "it's", "back\\slash", ""] {
            let quoted = Conninfo.quoteValue(v)
            #expect(quoted.hasPrefix("'") && quoted.hasSuffix("'"))
            #expect(Conninfo.value("k", in: "a=1 k=\(quoted) b=2") == v)
        }
        #expect(Conninfo.quoteValue("it's") == "'it\\'s'")
    }
}

@Suite("ServerVersion")
struct ServerVersionTests {
    @Test func parsing() {
        #expect(ServerVersion(pgVersionFile: "15\n")?.num == 150000)
        #expect(ServerVersion(pgVersionFile: "9.6")?.num == 90600)
        #expect(ServerVersion(pgVersionFile: "9") == nil)
        #expect(ServerVersion(pgVersionFile: "x") == nil)
        #expect(
            ServerVersion(versionString: "postgres (PostgreSQL) 15.18 (Debian 15.18-0)")?.num
                == 150018)
        #expect(ServerVersion(versionString: "PostgreSQL 9.6.24 on x86_64")?.num == 90624)
        #expect(ServerVersion(versionString: "18beta1")?.num == 180000)
        #expect(ServerVersion(num: 150004).description == "15.4")
        #expect(ServerVersion(num: 90624).description == "9.6.24")
        #expect(ServerVersion(num: 90624).majorName == "9.6")
        #expect(ServerVersion(num: 180001).major == 18)
    }

    @Test func featuresByVersion() {
        let v96 = ServerVersion(num: 90624)
        let v11 = ServerVersion(num: 110022)
        let v12 = ServerVersion(num: 120000)
        let v13 = ServerVersion(num: 130000)
        let v15 = ServerVersion(num: 150004)
        #expect(v96 < v11 && v11 < v15)
        #expect(!v96.usesBackupStartStop && !v11.usesBackupStartStop && v15.usesBackupStartStop)
        #expect(v11.usesRecoveryConf && !v12.usesRecoveryConf)
        #expect(!v11.hasPgPromote && v12.hasPgPromote)
        #expect(v96.walDirName == "pg_xlog" && v11.walDirName == "pg_wal")
        #expect(v96.currentLSNFunction == "pg_current_xlog_location")
        #expect(v12.currentLSNFunction == "pg_current_wal_lsn")
        #expect(v96.walFileNameOffsetFunction == "pg_xlogfile_name_offset")
        #expect(v12.switchWALFunction == "pg_switch_wal")
        #expect(v12.walKeepSetting == "wal_keep_segments" && v13.walKeepSetting == "wal_keep_size")
        #expect(v15.backupStartFunction == "pg_backup_start")
        #expect(v12.backupStopFunction == "pg_stop_backup")
    }
}

@Suite("PGResult")
struct PGResultTests {
    @Test func accessors() {
        let r = PGResult(columns: ["n", "b", "t"], rows: [["42", "t", nil], ["x", "f", "y"]])
        #expect(r[0, "n"] == "42" && r[0, "t"] == nil && r[5, "n"] == nil && r[0, "zz"] == nil)
        #expect(r.int(row: 0, column: "n") == 42 && r.int(row: 1, column: "n") == nil)
        #expect(r.bool(row: 0, column: "b") == true && r.bool(row: 1, column: "b") == false)
    }

    @Test func errorMessagesHidePasswords() {
        let error = PGError.connect(
            conninfo: "host=db1 port=6543 password=s3cret", host: nil, port: nil,
            message: "FATAL: password s3cret rejected")
        let text = error.description
        #expect(text.contains("db1") && text.contains("6543") && text.contains("pg_hba.conf"))
        #expect(!text.contains("s3cret"))
    }
}

@Suite("PGConnection against real servers", .serialized)
struct PGConnectionTests {
    @Test(arguments: TestEnv.pgBinDirs)
    func connectQueryAndErrors(binDir: String) async throws {
        try await withCluster(binDir) { cluster in
            let pg = try PGConnection(conninfo: cluster.conninfo)
            defer { pg.close() }
            #expect(pg.isAlive)
            #expect(pg.serverVersionNum == cluster.version.num)
            #expect(pg.serverVersion.major == cluster.version.major)
            #expect(pg.host == cluster.socketDir && pg.port == "\(cluster.port)")
            #expect(try pg.scalar("SELECT $1::int + $2::int", ["40", "2"]) == "42")
            let tricky = "it's a \"quote\" \\ ; DROP TABLE x; --"
            #expect(try pg.scalar("SELECT $1::text", [tricky]) == tricky)
            #expect(try pg.scalar("SELECT $1::text IS NULL", [nil]) == "t")
            #expect(try pg.scalar("SELECT NULL::text") == nil)
            #expect(try pg.scalar("SELECT 1 WHERE false") == nil)
            #expect(try pg.scalar("SHOW application_name") == "walmgr")
            #expect(try pg.scalar("SHOW client_encoding") == "UTF8")

            let r = try pg.query("SELECT n, n % 2 = 0 AS even FROM generate_series(1, 3) n")
            #expect(r.columns == ["n", "even"] && r.count == 3)
            #expect(r.int(row: 2, column: "n") == 3 && r.bool(row: 1, column: "even") == true)
            try pg.execute("CREATE TABLE t (v text)")
            #expect(try pg.query("INSERT INTO t VALUES ($1), ($2)", ["a", nil]).affectedRows == 2)

            #expect {
                try pg.execute("SELECT no_such_function()")
            } throws: { error in
                guard case PGError.queryFailed(_, let state, _, _, _) = error else { return false }
                return state == "42883"
            }
            #expect(pg.isAlive)

            let named = try PGConnection(conninfo: cluster.tcpConninfo + " application_name=x")
            #expect(try named.scalar("SHOW application_name") == "x")

            pg.close()
            #expect(!pg.isAlive)
            #expect(throws: PGError.self) { try pg.scalar("SELECT 1") }
        }
    }

    @Test(arguments: TestEnv.pgBinDirs)
    func libpqSeesTheBinariesVersion(binDir: String) async throws {
        let version = try await PGCluster.binaryVersion(binDir: binDir)
        try await withCluster(binDir) { cluster in
            let pg = try PGConnection(conninfo: cluster.tcpConninfo)
            #expect(pg.serverVersionNum == version.num)
            #expect(pg.serverVersionNum / 10000 == version.major)
            #expect(
                try await cluster.psql("SELECT current_setting('server_version_num')")
                    == "\(version.num)")
        }
    }

    @Test func wrongPortErrorNamesServerButNotPassword() throws {
        let port = try TestEnv.freePort()
        let conninfo = "host=127.0.0.1 port=\(port) user=postgres password=s3cret connect_timeout=5"
        do {
            _ = try PGConnection(conninfo: conninfo)
            Issue.record("connected to a port where nothing listens")
        } catch {
            let text = error.description
            #expect(text.contains("127.0.0.1") && text.contains("port \(port)"))
            #expect(text.contains("running") && text.contains("pg_hba.conf"))
            #expect(!text.contains("s3cret"))
            guard case .connectFailed(let masked, _, _, _) = error else {
                Issue.record("expected connectFailed, got \(error)")
                return
            }
            #expect(masked.contains("password=********"))
        }
    }
}
