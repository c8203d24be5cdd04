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
        let raw = try readAll(fd, size: size, path: name.name)
        var stored = raw
        if method != .none {
            stored = []
            _ = lseek(fd, 0, SEEK_SET)
            _ = try WALCodec.compress(
                method, level: level, threads: threads, from: fd, size: size,
                sourcePath: name.name
            ) { stored += $0 }
        }
        let walSHA = Digest.hex(Digest.sha256(raw))
        let key = repository.key(ArchivedWAL(name: name, method: method).fileName)
        let headers = [
            ("Content-MD5", Data(Digest.md5(stored)).base64EncodedString()),
            ("If-None-Match", "*"),
            ("x-amz-meta-sha256", Digest.hex(Digest.sha256(stored))),
            ("x-amz-meta-wal-sha256", walSHA),
        ]
        let response = try client.send("PUT", key, headers: headers, body: stored)
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

    /// Reads exactly `size` bytes of `fd` from its start.
    static func readAll(_ fd: Int32, size: Int, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, size - done, off_t(done))
            }
            guard n > 0 else {
                if n < 0 { throw FileError("read", path) }
                throw ArchiveError.shortTransfer(name: path, expected: size, received: done)
            }
            done += n
        }
        return bytes
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
        let actual = Digest.hex(Digest.sha256(try readAll(fd, size: written, path: object)))
        guard actual == expected else {
            throw S3Error.corruptDownload(
                object: object, reason: "its sha256 is \(actual), its metadata says \(expected)")
        }
    }
}
