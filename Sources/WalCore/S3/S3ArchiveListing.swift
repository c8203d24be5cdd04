import Foundation

/// What an `s3://bucket/prefix` completed_wals holds, from one listing of the prefix (one
/// request per 1000 objects): what `status` and `check` show for a directory archive.
struct S3ArchiveListing {
    /// One stored WAL file: its name under the prefix, size and upload time.
    struct Entry {
        let name: String
        let size: Int
        let modified: Date?
    }

    let client: S3Client
    /// The files directly under the prefix, in name order.
    let entries: [Entry]

    /// Lists completed_wals; nil when it is not an s3:// URL.
    static func read(_ common: CommonConfig) throws -> S3ArchiveListing? {
        guard let repository = try S3Repository(common.completedWals) else { return nil }
        let client = try S3Client(settings: common.s3, repository: repository)
        let base = repository.key("")
        let entries = try client.list(prefix: base).compactMap { object -> Entry? in
            let name = String(object.key.dropFirst(base.count))
            guard !name.isEmpty, !name.contains("/") else { return nil }
            return Entry(name: name, size: object.size, modified: object.lastModified)
        }
        return S3ArchiveListing(client: client, entries: entries)
    }

    /// The stored names, as a directory listing would give them.
    var names: [String] { entries.map(\.name) }

    /// The size of any uncompressed segment that has a possible segment size, else 16 MiB
    /// (as ``WALContinuity/segmentSize(in:names:)`` for a directory).
    var segmentSize: UInt64 {
        for entry in entries where WALName(entry.name)?.kind == .segment {
            if entry.size > 0, WALSegment.isValidSize(UInt64(entry.size)) {
                return UInt64(entry.size)
            }
        }
        return 16 << 20
    }

    /// The newest segment (by position, then timeline) and its entry.
    var newestSegment: (wal: String, entry: Entry)? {
        entries.compactMap { entry -> (String, Entry)? in
            guard let wal = WALPurge.walName(stored: entry.name), wal.kind == .segment else {
                return nil
            }
            return (wal.name, entry)
        }.max { (String($0.0.dropFirst(8)), $0.0) < (String($1.0.dropFirst(8)), $1.0) }
    }

    /// Segment count, newest segment and its age, as `status` shows them.
    func statusFields(path: String) -> [String: JSONValue] {
        let segments = entries.filter { WALPurge.walName(stored: $0.name)?.kind == .segment }
        let newest = newestSegment
        var fields: [String: JSONValue] = [
            "path": .string(path), "segments": .int(Int64(segments.count)),
            "newest_wal": .text(newest?.wal),
        ]
        if let date = newest?.entry.modified {
            fields["newest_wal_time"] = .string(BackupManifest.isoTime(date))
            fields["newest_wal_age_seconds"] = .number(Age.seconds(since: date))
        }
        return fields
    }

    /// The index PITR and the recoverable window work on: upload times as archive times, and
    /// the history files' text (each a small GET).
    func index() throws -> ArchiveIndex {
        let size = segmentSize
        var segments: [WALSegment: Date] = [:]
        var histories: [UInt32: String] = [:]
        for entry in entries {
            guard let stored = ArchivedWAL(fileName: entry.name) else { continue }
            if stored.name.kind == .history {
                histories[stored.name.timeline] = try history(entry.name, method: stored.method)
                continue
            }
            guard stored.name.kind == .segment,
                let segment = WALSegment(name: stored.name.name, size: size)
            else { continue }
            let date = entry.modified ?? Date(timeIntervalSince1970: 0)
            segments[segment] = max(segments[segment] ?? date, date)
        }
        return ArchiveIndex(
            dir: client.repository.description, segmentSize: size, segments: segments,
            histories: histories)
    }

    /// A history file's text, decompressed.
    private func history(_ name: String, method: CompressMethod) throws -> String? {
        let key = client.repository.key(name)
        let copy = try MemoryFile()
        defer { close(copy.fd) }
        let response = try client.send("GET", key, bodyFD: copy.fd)
        guard response.status == 200 else { return nil }
        try S3WAL.verify(response, fd: copy.fd, object: client.describe(key))
        guard lseek(copy.fd, 0, SEEK_SET) == 0 else { throw FileError("rewind", name) }
        return try ArchiveIndex.readText(fd: copy.fd, method: method, path: client.describe(key))
    }
}

extension ArchiveIndex {
    /// The index of completed_wals, a directory or an `s3://` archive (one listing of the
    /// prefix): what PITR and the recoverable window read.
    static func read(_ common: CommonConfig) throws -> ArchiveIndex {
        if let listing = try S3ArchiveListing.read(common) { return try listing.index() }
        return try read(common.completedWals)
    }
}

/// One listing per command, however many parts of a report need it.
final class S3ListingCache: @unchecked Sendable {
    private var listing: S3ArchiveListing?

    /// The listing of completed_wals, read on first use; nil when it is not S3.
    func read(_ common: CommonConfig) throws -> S3ArchiveListing? {
        if let listing { return listing }
        listing = try S3ArchiveListing.read(common)
        return listing
    }
}
