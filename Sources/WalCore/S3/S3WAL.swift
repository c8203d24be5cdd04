import Foundation

/// xarchive and xrestore against an `s3://bucket/prefix` completed_wals.
///
/// Each WAL file is one object named like the file in a directory archive (`NAME`, `NAME.zst`,
/// `NAME.lz4`). Its user metadata holds `sha256` (of the stored bytes) and `wal-sha256` (of the
/// WAL itself), so a duplicate compressed at another level still counts as the same WAL.
enum S3WAL {
    /// Uploads one WAL file with `If-None-Match: *`: an existing object is never overwritten.
    /// Succeeds only on the server's 200; a 412 compares the WAL's SHA-256 with the object's.
    static func archive(
        _ name: WALName, fd: Int32, size: Int, method: CompressMethod, level: Int, threads: Int,
        settings: S3Settings, repository: S3Repository
    ) throws -> Durable.StoreResult {
        let client = try S3Client(settings: settings, repository: repository)
        // If-None-Match guards this suffix only; a copy under another one (compress_method
        // changed) is compared by content, as the directory archive does. The lookup loads
        // libcurl, opens the TLS connection the PUT reuses and lists, beside the hashing.
        let lookup = SuffixLookup(name, method: method, client: client)
        let raw = try Digest.file(fd, size: size, path: name.name, md5: method == .none)
        if let other = try lookup.value(),
            let result = try compareOther(
                other, fd: fd, size: size, wanted: ArchivedWAL(name: name, method: method),
                walSHA: Digest.hex(raw.sha256), client: client)
        {
            return result
        }
        // Compressed into an in-memory file that curl then reads; plain WAL is sent from the
        // source file itself. Either way no copy of a segment sits in walmgr's own memory.
        var compressed: MemoryFile? = nil
        defer { if let compressed { close(compressed.fd) } }
        var upload = FileBody(fd: fd, size: size, sha256: Digest.hex(raw.sha256))
        var md5 = raw.md5
        if method != .none {
            let file = try WALCodec.compressedInMemory(
                method, level: level, threads: threads, from: fd, size: size, name: name.name)
            compressed = file
            let digests = try Digest.file(file.fd, size: file.size, path: name.name)
            upload = FileBody(fd: file.fd, size: file.size, sha256: Digest.hex(digests.sha256))
            md5 = digests.md5
        }
        let walSHA = Digest.hex(raw.sha256)
        let key = repository.key(ArchivedWAL(name: name, method: method).fileName)
        let headers = [
            ("Content-MD5", Data(md5).base64EncodedString()),
            ("If-None-Match", "*"),
            ("x-amz-meta-sha256", upload.sha256),
            ("x-amz-meta-wal-sha256", walSHA),
        ]
        let response = try client.send("PUT", key, headers: headers, upload: upload)
        switch response.status {
        case 200: return .stored
        case 412: return try compareExisting(key, walSHA: walSHA, client: client)
        default: throw client.failure(response, "PUT", key)
        }
    }

    /// After a 412: the same WAL → already archived; another → a conflict naming both.
    static func compareExisting(_ key: String, walSHA: String, client: S3Client) throws
        -> Durable.StoreResult
    {
        let head = try client.send("HEAD", key)
        guard head.status == 200 else { throw client.failure(head, "HEAD", key) }
        let existing = head.headers["x-amz-meta-wal-sha256"] ?? "(none recorded)"
        guard existing == walSHA else {
            throw S3Error.conflict(object: client.describe(key), existing: existing, new: walSHA)
        }
        return .alreadyPresent
    }

    /// Downloads `name` into `target` (via a temp file, checked, then renamed); nil when no
    /// object of that name exists under any suffix.
    static func restore(
        _ name: WALName, to target: String, preferring method: CompressMethod,
        settings: S3Settings, repository: S3Repository
    ) throws -> Int? {
        let client = try S3Client(settings: settings, repository: repository)
        let order = [method] + CompressMethod.allCases.filter { $0 != method }
        for candidate in order {
            let key = repository.key(ArchivedWAL(name: name, method: candidate).fileName)
            if let size = try fetch(key, name: name, method: candidate, to: target, client) {
                return size
            }
        }
        return nil
    }

    /// GETs one object; nil on 404.
    static func fetch(
        _ key: String, name: WALName, method: CompressMethod, to target: String,
        _ client: S3Client
    ) throws -> Int? {
        // A unique O_EXCL|O_NOFOLLOW temp beside the target (walmgr's temp-file rule).
        let (fd, tmp) = try Durable.createTemp(for: target, mode: 0o600)
        defer { unlink(tmp) }
        defer { close(fd) }
        let response = try client.send("GET", key, bodyFD: fd)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw client.failure(response, "GET", key) }
        try verify(response, fd: fd, object: client.describe(key))
        if method != .none {
            return try XRestore.deliverDecompressed(
                ArchivedFile(path: tmp, method: method), name: name, to: target)
        }
        let size = response.bodyBytesWritten
        if name.kind == .segment, let reason = SegmentCheck.problem(fd: fd, name: name, size: size)
        {
            throw StandbyError.badSegment(path: client.describe(key), reason: reason)
        }
        guard rename(tmp, target) == 0 else { throw FileError("rename \(tmp) to", target) }
        return size
    }

    /// The download's size matches Content-Length and its SHA-256 the `sha256` metadata.
    static func verify(_ response: HTTPResponse, fd: Int32, object: String) throws {
        let written = response.bodyBytesWritten
        if let length = response.headers["content-length"].flatMap(Int.init), length != written {
            throw S3Error.corruptDownload(
                object: object, reason: "\(written) of \(length) bytes arrived")
        }
        guard let expected = response.headers["x-amz-meta-sha256"] else { return }
        let actual = Digest.hex(try Digest.file(fd, size: written, path: object, md5: false).sha256)
        guard actual == expected else {
            throw S3Error.corruptDownload(
                object: object, reason: "its sha256 is \(actual), its metadata says \(expected)")
        }
    }
}
