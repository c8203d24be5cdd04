import Foundation

/// `walmgr_manifest.json` in a backup dir: what `listbackups --json` prints for it.
public struct BackupManifest: Codable, Sendable, Equatable {
    /// A tablespace copied into the backup.
    public struct Tablespace: Codable, Sendable, Equatable {
        /// The pg_tblspc link name (the tablespace OID).
        public var oid: String
        /// Where the link pointed on the master.
        public var location: String
        /// The directory inside the backup holding its copy.
        public var path: String

        /// Creates a record.
        public init(oid: String, location: String, path: String) {
            self.oid = oid
            self.location = location
            self.path = path
        }
    }

    /// One file of the backup with its checksum, as the copy saw it.
    public struct File: Codable, Sendable, Equatable {
        /// The path inside the backup dir (`base/5/1259`, `walmgr_tblspc/16384/…`).
        public var path: String
        /// Bytes.
        public var size: Int64
        /// SHA-256, lowercase hex.
        public var sha256: String

        /// Creates a record.
        public init(path: String, size: Int64, sha256: String) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    /// The backup directory's name (`data.master`, `data.master.0`, …).
    public var name: String
    /// The label given to pg_backup_start.
    public var label: String
    /// `complete` once every file and WAL is durable; anything else is not restorable.
    public var status: String
    /// The status of a backup still being taken.
    public static let inProgress = "in progress"
    /// ISO 8601 UTC.
    public var startTime: String
    /// ISO 8601 UTC.
    public var stopTime: String
    /// The start LSN.
    public var startLSN: String
    /// The stop LSN.
    public var stopLSN: String
    /// The WAL file holding the start LSN.
    public var startWAL: String
    /// The WAL file holding the stop LSN.
    public var stopWAL: String
    /// The timeline the backup started on.
    public var timeline: UInt32
    /// server_version_num.
    public var pgVersion: Int
    /// pg_control's system identifier (as text: it exceeds JSON's safe integers).
    public var systemIdentifier: String
    /// Bytes copied (data dir and tablespaces).
    public var sizeBytes: Int64
    /// Files copied.
    public var fileCount: Int
    /// Tablespaces copied.
    public var tablespaces: [Tablespace]
    /// `master` or `standby`: where the backup was taken.
    public var takenFrom: String
    /// True when the manifest was made up from a walmgr3 backup_label.
    public var legacy: Bool?
    /// Every file of the backup with its SHA-256 (what `verify` re-reads); nil for backups
    /// taken before walmgr recorded checksums. `listbackups` leaves it out.
    public var files: [File]?
    /// Every directory of the backup (paths inside it), for a repository that stores only
    /// files (S3): restore recreates the empty ones PostgreSQL needs. Nil for a directory backup.
    public var directories: [String]?
    /// Files hard-linked from the previous backup instead of copied (nil: a full copy, or a
    /// backup taken before walmgr made incremental ones).
    public var reusedFiles: Int?
    /// Bytes of those files.
    public var reusedBytes: Int64?
    /// Bytes actually copied (`size_bytes` minus `reused_bytes`).
    public var copiedBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case name, label, status, timeline, tablespaces, legacy, files, directories
        case startTime = "start_time"
        case stopTime = "stop_time"
        case startLSN = "start_lsn"
        case stopLSN = "stop_lsn"
        case startWAL = "start_wal"
        case stopWAL = "stop_wal"
        case pgVersion = "pg_version"
        case systemIdentifier = "system_identifier"
        case sizeBytes = "size_bytes"
        case fileCount = "file_count"
        case takenFrom = "taken_from"
        case reusedFiles = "reused_files"
        case reusedBytes = "reused_bytes"
        case copiedBytes = "copied_bytes"
    }

    /// The manifest's file name inside a backup dir.
    public static let fileName = "walmgr_manifest.json"

    /// Encodes as pretty, key-sorted JSON.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [10]
    }

    /// Decodes a manifest.
    public static func decode(_ bytes: [UInt8]) throws -> BackupManifest {
        try JSONDecoder().decode(BackupManifest.self, from: Data(bytes))
    }

    /// ISO 8601 UTC, second precision.
    public static func isoTime(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
