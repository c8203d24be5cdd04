/// A PostgreSQL server version (`server_version_num`) and what changes with it.
public struct ServerVersion: Sendable, Comparable, Hashable, CustomStringConvertible {
    /// The version as `server_version_num`: 150004 for 15.4, 90624 for 9.6.24.
    public let num: Int

    /// The oldest version walmgr knows how to drive.
    public static let oldestSupported = ServerVersion(num: 90600)

    /// Creates a version from `server_version_num` (or `PQserverVersion`).
    public init(num: Int) { self.num = num }

    /// Parses a data directory's `PG_VERSION` file: `"15"` → 150000, `"9.6"` → 90600.
    public init?(pgVersionFile contents: String) {
        let text = contents.trimmingWhitespace()
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let first = Int(parts[0]), first > 0 else {
            return nil
        }
        if parts.count == 1 {
            guard first >= 10 else { return nil }
            num = first * 10000
        } else {
            guard first < 10, let second = Int(parts[1]), (0..<100).contains(second) else {
                return nil
            }
            num = first * 10000 + second * 100
        }
    }

    /// Parses the output of `postgres --version` or a `version()` / `server_version` string:
    /// `postgres (PostgreSQL) 15.14 (Debian ...)` → 150014, `9.6.24` → 90624, `18beta1` → 180000.
    public init?(versionString: String) {
        let text = versionString.trimmingWhitespace()
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let afterName = words.drop { !$0.hasSuffix("PostgreSQL") && !$0.hasSuffix("PostgreSQL)") }
        guard let word = afterName.dropFirst().first ?? words.first else { return nil }
        let numeric = word.prefix { $0.isNumber || $0 == "." }
        let parts = numeric.split(separator: ".").compactMap { Int($0) }
        guard let first = parts.first, first > 0 else { return nil }
        if first >= 10 {
            num = first * 10000 + (parts.count > 1 ? parts[1] : 0)
        } else {
            guard parts.count >= 2 else { return nil }
            num = first * 10000 + parts[1] * 100 + (parts.count > 2 ? parts[2] : 0)
        }
    }

    /// The first number of the version: 15 for 15.4, 9 for 9.6.
    public var major: Int { num / 10000 }

    /// The major version as PostgreSQL names it (and `PG_VERSION` holds): "15", "9.6".
    public var majorName: String { num >= 100000 ? "\(major)" : "\(major).\(num / 100 % 100)" }

    /// The full version: "15.4", "9.6.24".
    public var description: String {
        num >= 100000 ? "\(major).\(num % 10000)" : "\(majorName).\(num % 100)"
    }

    public static func < (a: ServerVersion, b: ServerVersion) -> Bool { a.num < b.num }

    /// True when the major versions are the same (a standby needs this of its master).
    public func sameMajor(as other: ServerVersion) -> Bool { majorName == other.majorName }

    // MARK: - What changes with the version

    /// `pg_backup_start`/`pg_backup_stop` exist (15+); before, `pg_start_backup`/`pg_stop_backup`.
    public var usesBackupStartStop: Bool { num >= 150000 }
    /// Recovery settings go to `recovery.conf` (before 12) instead of signal files.
    public var usesRecoveryConf: Bool { num < 120000 }
    /// `pg_promote()` and `pg_ctl promote` without a trigger file are available (12+).
    public var hasPgPromote: Bool { num >= 120000 }
    /// `recovery_init_sync_method` exists (14+).
    public var hasRecoveryInitSyncMethod: Bool { num >= 140000 }
    /// The WAL directory inside the data directory: "pg_wal" (10+) or "pg_xlog".
    public var walDirName: String { num >= 100000 ? "pg_wal" : "pg_xlog" }
    /// The setting that keeps WAL for standbys: "wal_keep_size" (13+) or "wal_keep_segments".
    public var walKeepSetting: String { num >= 130000 ? "wal_keep_size" : "wal_keep_segments" }

    /// The function that starts a base backup.
    public var backupStartFunction: String {
        usesBackupStartStop ? "pg_backup_start" : "pg_start_backup"
    }
    /// The function that stops a base backup.
    public var backupStopFunction: String {
        usesBackupStartStop ? "pg_backup_stop" : "pg_stop_backup"
    }

    private var isWAL: Bool { num >= 100000 }

    /// The function that returns the current write LSN on a master.
    public var currentLSNFunction: String {
        isWAL ? "pg_current_wal_lsn" : "pg_current_xlog_location"
    }
    /// The function that maps an LSN to a WAL file name and offset.
    public var walFileNameOffsetFunction: String {
        isWAL ? "pg_walfile_name_offset" : "pg_xlogfile_name_offset"
    }
    /// The function that maps an LSN to a WAL file name.
    public var walFileNameFunction: String { isWAL ? "pg_walfile_name" : "pg_xlogfile_name" }
    /// The function that forces a switch to a new WAL file.
    public var switchWALFunction: String { isWAL ? "pg_switch_wal" : "pg_switch_xlog" }
    /// The function that returns the last LSN replayed by a standby.
    public var lastReplayLSNFunction: String {
        isWAL ? "pg_last_wal_replay_lsn" : "pg_last_xlog_replay_location"
    }
    /// The function that returns the last LSN a standby received by streaming.
    public var lastReceiveLSNFunction: String {
        isWAL ? "pg_last_wal_receive_lsn" : "pg_last_xlog_receive_location"
    }
    /// The function that pauses WAL replay on a standby.
    public var replayPauseFunction: String {
        isWAL ? "pg_wal_replay_pause" : "pg_xlog_replay_pause"
    }
    /// The function that resumes WAL replay on a standby.
    public var replayResumeFunction: String {
        isWAL ? "pg_wal_replay_resume" : "pg_xlog_replay_resume"
    }
    /// The function that tells whether replay is paused.
    public var replayIsPausedFunction: String {
        isWAL ? "pg_is_wal_replay_paused" : "pg_is_xlog_replay_paused"
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<max(start, end)]
    }
}
