import Foundation

/// The `backup_manifest` of PostgreSQL 13+ (version 1), so that the stock `pg_verifybackup` can
/// check a walmgr backup. Pure renderer: the caller supplies the files and their checksums.
///
/// The format, as pg_basebackup writes it: one file per line in "Files", the WAL range the
/// backup needs in "WAL-Ranges", and a last line with "Manifest-Checksum", the SHA-256 of every
/// byte before that line.
public enum PGBackupManifest {
    /// The file name pg_verifybackup looks for in the backup dir.
    public static let fileName = "backup_manifest"

    /// One file line.
    public struct File: Sendable, Equatable {
        /// Path relative to the backup dir.
        public var path: String
        /// Bytes.
        public var size: Int64
        /// Modification time (seconds since the epoch).
        public var modified: Int
        /// SHA-256, lowercase hex.
        public var sha256: String

        /// Creates a line.
        public init(path: String, size: Int64, modified: Int, sha256: String) {
            self.path = path
            self.size = size
            self.modified = modified
            self.sha256 = sha256
        }
    }

    /// Paths pg_verifybackup never checks (its built-in ignore list): not listed here either.
    public static func ignored(_ path: String) -> Bool {
        ["backup_manifest", "postgresql.auto.conf", "recovery.signal", "standby.signal"]
            .contains(path) || path == "pg_wal" || path.hasPrefix("pg_wal/")
    }

    /// The manifest text for `files` and one WAL range (timeline, start and end LSN).
    public static func render(files: [File], timeline: UInt32, startLSN: String, endLSN: String)
        -> [UInt8]
    {
        var text = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": ["
        for (i, file) in files.enumerated() {
            text += i == 0 ? "\n" : ",\n"
            text += "{ \"Path\": \(quoted(file.path)), \"Size\": \(file.size), "
            text += "\"Last-Modified\": \"\(gmt(file.modified))\", "
            text += "\"Checksum-Algorithm\": \"SHA256\", \"Checksum\": \"\(file.sha256)\" }"
        }
        text += " ],\n\"WAL-Ranges\": [\n"
        text += "{ \"Timeline\": \(timeline), \"Start-LSN\": \"\(startLSN)\", "
        text += "\"End-LSN\": \"\(endLSN)\" }\n],\n"
        let body = Array(text.utf8)
        let checksum = FileDigest.sha256(body)
        return body + Array("\"Manifest-Checksum\": \"\(checksum)\"}\n".utf8)
    }

    /// `2026-11-21 21:15:24 GMT`, as pg_basebackup writes Last-Modified.
    static func gmt(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d GMT", Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
            Int(parts.tm_sec))
    }

    /// A JSON string literal (paths in a data dir are plain, but quote them properly anyway).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension PGBackupManifest {
    /// Why the Manifest-Checksum line does not match the text before it, or nil when it does.
    public static func checksumProblem(_ bytes: [UInt8]) -> String? {
        guard bytes.last == 10, let cut = bytes.dropLast().lastIndex(of: 10) else {
            return "not a backup manifest (no final Manifest-Checksum line)"
        }
        let line = String(decoding: bytes[(cut + 1)...], as: UTF8.self)
        // "Manifest-Checksum": "<hex>"}
        let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
        let expected = parts.count > 3 && parts[1] == "Manifest-Checksum" ? String(parts[3]) : ""
        let found = FileDigest.sha256(Array(bytes[...cut]))
        return expected == found
            ? nil : "Manifest-Checksum expected \(expected), found \(found): the file was altered"
    }

    /// The Checksum recorded for `path` in a manifest, or nil.
    static func checksum(of path: String, in data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let files = object["Files"] as? [[String: Any]]
        else { return nil }
        return files.first { $0["Path"] as? String == path }?["Checksum"] as? String
    }
}
