import Dispatch
import Foundation

/// The duplicate rule across suffixes: `NAME` archived as `NAME.zst` is the same WAL.
extension S3WAL {
    /// The copy of `name` stored under another suffix than `method`'s, if any (one list
    /// request for the name: it finds every suffix at once).
    static func storedElsewhere(_ name: WALName, method: CompressMethod, client: S3Client)
        throws -> ArchivedWAL?
    {
        let base = client.repository.key(name.name)
        return try client.list(prefix: base, pageSize: 10).lazy.compactMap { object in
            ArchivedWAL(fileName: name.name + object.key.dropFirst(base.count))
        }.first { $0.name == name && $0.method != method }
    }

    /// Downloads the other copy and compares its decompressed content with the WAL file:
    /// identical → already archived; different → a conflict naming both objects; nil when it
    /// vanished meanwhile (then the upload goes ahead, still with If-None-Match).
    static func compareOther(
        _ other: ArchivedWAL, fd: Int32, size: Int, wanted: ArchivedWAL, walSHA: String,
        client: S3Client
    ) throws -> Durable.StoreResult? {
        let name = wanted.name
        let key = client.repository.key(other.fileName)
        let copy = try MemoryFile()
        defer { close(copy.fd) }
        let response = try client.send("GET", key, bodyFD: copy.fd)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw client.failure(response, "GET", key) }
        try verify(response, fd: copy.fd, object: client.describe(key))
        guard lseek(copy.fd, 0, SEEK_SET) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw FileError("rewind", name.name)
        }
        let incoming = try DecodedReader(fd: fd, method: .none, path: name.name)
        let same = try WALContent.identical(
            DecodedReader(fd: copy.fd, method: other.method, path: client.describe(key)), incoming)
        guard same else {
            throw S3Error.conflictOtherSuffix(
                existing: client.describe(key),
                wanted: client.describe(client.repository.key(wanted.fileName)),
                existingSHA: response.headers["x-amz-meta-wal-sha256"] ?? "(none recorded)",
                newSHA: walSHA)
        }
        guard incoming.storedBytes == size else {
            throw ArchiveError.shortTransfer(
                name: name.name, expected: size, received: incoming.storedBytes)
        }
        return .alreadyPresent
    }
}

/// ``S3WAL/storedElsewhere(_:method:client:)`` on a second thread, so that loading libcurl, the
/// TLS handshake and the list request overlap the SHA-256 and MD5 of the segment (about 30 and
/// 35 ms of a 16 MiB xarchive).
///
/// `@unchecked Sendable` is safe: `result` is written once before `done` is signalled and read
/// only after waiting for it.
final class SuffixLookup: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<ArchivedWAL?, any Error> = .success(nil)

    /// Starts the lookup.
    init(_ name: WALName, method: CompressMethod, client: S3Client) {
        DispatchQueue.global().async {
            self.result = Result { try S3WAL.storedElsewhere(name, method: method, client: client) }
            self.done.signal()
        }
    }

    /// Waits for the lookup; throws what it threw.
    func value() throws -> ArchivedWAL? {
        done.wait()
        return try result.get()
    }
}
