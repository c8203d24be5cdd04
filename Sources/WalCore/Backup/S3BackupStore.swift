import Foundation

/// Backups in an S3 repository (`full_backup = s3://bucket/prefix`).
///
/// Layout: `PREFIX/base-<UTC time>/data/<path>` holds each file of the backup (the data dir,
/// `walmgr_tblspc/<oid>/…`, backup_label, tablespace_map), and `PREFIX/base-<time>/`
/// `walmgr_manifest.json` is written last. A backup without its manifest does not exist:
/// listings skip it, and the next backup deletes it. `PREFIX/BACKUPLOCK` is the backup lock.
struct S3BackupStore {
    let client: S3Client
    let repository: S3Repository
    /// Backup names start with this.
    static let namePrefix = "base-"

    /// The store for full_backup, or nil when full_backup is not `s3://`.
    init?(_ common: CommonConfig) throws {
        guard let repository = try S3Repository(common.fullBackup, key: "full_backup") else {
            return nil
        }
        self.repository = repository
        client = try S3Client(settings: common.s3, repository: repository)
    }

    /// A name for a backup started at `now`: `base-20261130T035512123Z` (sorts by time).
    static func newName(now: Date = Date()) -> String {
        let ms = Int((now.timeIntervalSince1970 * 1000).rounded(.down))
        let stamp = S3Client.amzDate(time_t(ms / 1000)).dropLast()
        return "\(namePrefix)\(stamp)\(String(format: "%03d", ms % 1000))Z"
    }

    /// `PREFIX/NAME`.
    func dir(_ name: String) -> String { repository.key(name) }
    /// The object holding a backup file.
    func dataKey(_ name: String, _ path: String) -> String { "\(dir(name))/data/\(path)" }
    /// The manifest's object.
    func manifestKey(_ name: String) -> String { "\(dir(name))/\(BackupManifest.fileName)" }
    /// `s3://bucket/PREFIX/NAME`, for messages and Entry paths.
    func describe(_ name: String) -> String { client.describe(dir(name)) }

    /// The backup names present (complete or not), oldest first.
    func names() throws -> [String] {
        let base = repository.prefix.isEmpty ? "" : repository.prefix + "/"
        return try client.commonPrefixes(prefix: base)
            .map { String($0.dropFirst(base.count).dropLast()) }
            .filter { $0.hasPrefix(Self.namePrefix) }.sorted()
    }

    /// The manifest of `name`, or nil when it has none (not a backup, or not finished).
    func manifest(_ name: String) throws -> BackupManifest? {
        let file = try MemoryFile()
        defer { close(file.fd) }
        let key = manifestKey(name)
        let response = try client.send("GET", key, bodyFD: file.fd)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw client.failure(response, "GET", key) }
        var bytes = [UInt8](repeating: 0, count: response.bodyBytesWritten)
        let n = bytes.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else { throw FileError("read", client.describe(key)) }
        var manifest = try BackupManifest.decode(bytes)
        manifest.name = name
        return manifest
    }

    /// Every complete backup, newest first.
    func list() throws -> [BackupCatalog.Entry] {
        try names().reversed().compactMap { name in
            try manifest(name).map { BackupCatalog.Entry(path: describe(name), manifest: $0) }
        }.filter(\.isComplete)
    }

    /// Writes the manifest: from now on the backup exists.
    func writeManifest(_ manifest: BackupManifest) throws {
        let key = manifestKey(manifest.name)
        let response = try client.send("PUT", key, body: try manifest.encoded())
        guard response.status == 200 else { throw client.failure(response, "PUT", key) }
    }

    /// Deletes a backup: its manifest first (it stops existing at once), then its files.
    func delete(_ name: String) throws {
        try client.delete([manifestKey(name)])
        let keys = try client.list(prefix: dir(name) + "/").map(\.key)
        try client.delete(keys)
    }

    /// What an interrupted backup left (call under the lock): multipart uploads in progress
    /// under the prefix are aborted, and backups without a manifest are deleted.
    func removeLeftovers(log: Log) throws {
        let base =
            repository.prefix.isEmpty ? Self.namePrefix : "\(repository.prefix)/\(Self.namePrefix)"
        for upload in try client.multipartUploads(prefix: base) {
            try client.abortMultipart(upload.key, uploadId: upload.uploadId)
            log.info("aborted the unfinished upload of \(client.describe(upload.key))")
        }
        for name in try names() where try manifest(name) == nil {
            try delete(name)
            log.info("removed the unfinished backup \(describe(name))")
        }
    }

    /// Keeps the newest backup and `keep` older complete ones; deletes the rest.
    func rotate(keep: Int, log: Log) throws {
        for entry in try list().dropFirst(1 + max(0, keep)) {
            try delete(entry.manifest.name)
            log.info("removed old backup \(entry.path) (keep_backups = \(keep))")
        }
    }
}
