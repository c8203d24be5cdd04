import Foundation

/// Slave helpers that master `check` and `setup` call: `xversion`, `xspace`, `xstreamuser`.
enum SlaveProbe {
    /// One slave directory: free space and whether the slave's user can write it.
    struct Space: Codable, Sendable, Equatable {
        /// The config key (`completed_wals`, `full_backup`).
        var key: String
        /// The path on the slave.
        var path: String
        /// Bytes available to an unprivileged user.
        var freeBytes: Int64
        /// Size of the file system.
        var totalBytes: Int64
        /// Why it is not writable (with the fix), or nil.
        var problem: String?

        enum CodingKeys: String, CodingKey {
            case key, path, problem
            case freeBytes = "free_bytes"
            case totalBytes = "total_bytes"
        }
    }

    /// Less free space than this on the slave fails `check`.
    static let minimumFreeBytes: Int64 = 1 << 30

    /// `xversion`: prints `walmgr VERSION`, so the master can compare.
    static func version(_ context: CommandContext) async throws -> Int32 {
        FileHandle.standardOutput.write(Data("walmgr \(Walmgr.version)\n".utf8))
        return 0
    }

    /// `xstreamuser`: prints the user the standby streams as (`user` of primary_conninfo, else
    /// libpq's default, this account), or nothing without primary_conninfo.
    static func streamUser(_ context: CommandContext) async throws -> Int32 {
        guard let conninfo = context.config.common.primaryConninfo, !conninfo.isEmpty else {
            return 0
        }
        let user = ReplicationProbe.user(primaryConninfo: conninfo)
        FileHandle.standardOutput.write(Data("\(user)\n".utf8))
        return 0
    }

    /// `xspace`: prints a JSON array of ``Space`` for completed_wals and full_backup's parent.
    static func space(_ context: CommandContext) async throws -> Int32 {
        let common = context.config.common
        var report: [Space] = []
        let dirs = [
            ("completed_wals", common.completedWals),
            // A bucket has no free space to measure.
            (
                "full_backup",
                S3Repository.isS3(common.fullBackup)
                    ? "" : (common.fullBackup as NSString).deletingLastPathComponent
            ),
        ]
        for (key, path) in dirs where !path.isEmpty && !S3Repository.isS3(path) {
            report.append(measure(key: key, path: path))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(report) + Data([10]))
        return 0
    }

    /// statvfs of the nearest existing directory, plus the writability check.
    static func measure(key: String, path: String) -> Space {
        let probe = FileOwnership.nearest(path).path
        var fs = statvfs()
        let ok = statvfs(probe, &fs) == 0
        let free = ok ? Int64(fs.f_bavail) * Int64(fs.f_frsize) : 0
        let total = ok ? Int64(fs.f_blocks) * Int64(fs.f_frsize) : 0
        let writable = PathCheck.writableDir(key, path)
        return Space(
            key: key, path: path, freeBytes: free, totalBytes: total,
            problem: writable.ok ? nil : writable.detail + "; fix on the slave: " + writable.fix)
    }

    /// The version a slave's `xversion` printed, e.g. `0.1.0`.
    static func parseVersion(_ output: String) -> String? {
        let words = output.split(whereSeparator: \.isWhitespace)
        guard words.count >= 2, words[0] == "walmgr" else { return nil }
        return String(words[1])
    }

    /// Versions are compatible when major and minor match (the slave helpers' contract).
    static func compatible(_ a: String, _ b: String) -> Bool {
        a.split(separator: ".").prefix(2) == b.split(separator: ".").prefix(2)
    }
}
