import Foundation
import Testing

@testable import WalCore

/// The S3 backup pieces without a server: listing XML, names, and the uploader's choice of
/// single PUT or multipart, its checksums and its bound on requests in flight.
@Suite struct S3BackupUnitTests {
    /// A fake bucket: records requests, answers multipart calls, counts concurrency.
    final class FakeBucket: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var requests: [(method: String, url: String, bytes: Int)] = []
        private(set) var parts: [String: [UInt8]] = [:]
        private var running = 0
        private(set) var mostRunning = 0

        func answer(_ request: HTTPRequest) -> HTTPResponse {
            lock.withLock {
                requests.append((request.method, request.url, request.body.count))
                running += 1
                mostRunning = max(mostRunning, running)
                if request.url.contains("partNumber=") { parts[request.url] = request.body }
            }
            usleep(2_000)  // long enough for the others to pile up if the bound were wrong
            lock.withLock { running -= 1 }
            let body = request.url.hasSuffix("uploads=") ? "<UploadId>U1</UploadId>" : ""
            return HTTPResponse(
                status: 200, headers: ["etag": "\"e\(request.body.count)\""],
                body: Array(body.utf8),
                bodyBytesWritten: 0)
        }
    }

    func client(_ bucket: FakeBucket) throws -> S3Client {
        try Digest.load()
        var client = S3Client(
            settings: S3Settings(endpoint: "http://127.0.0.1:1"),
            repository: try #require(try S3Repository("s3://bucket/backups")),
            credentials: S3ClientTests.credentials)
        client.backoff = .zero
        client.transport = { request, _, _ in bucket.answer(request) }
        return client
    }

    /// A temp file of `size` pseudo-random bytes; returns its fd and bytes.
    func file(size: Int) throws -> (Int32, [UInt8]) {
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 0..<size { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
        let file = try MemoryFile(bytes)
        return (file.fd, bytes)
    }

    @Test(arguments: [0, 1000, 5 << 20])
    func aFileOfOnePartOrLessIsOnePut(size: Int) throws {
        let bucket = FakeBucket()
        let uploader = S3Uploader(client: try client(bucket), partSize: 5 << 20)
        let (fd, bytes) = try file(size: size)
        defer { close(fd) }
        let sum = try uploader.upload(fd: fd, path: "f", key: "backups/base-1/data/f")
        try uploader.finish()
        #expect(sum.size == Int64(size) && sum.sha256 == FileDigest.sha256(bytes))
        #expect(bucket.requests.map(\.method) == ["PUT"])
        #expect(bucket.requests[0].bytes == size)
    }

    @Test func aLargerFileIsAMultipartUploadInBoundedParallelParts() throws {
        let bucket = FakeBucket()
        let part = 5 << 20
        let uploader = S3Uploader(client: try client(bucket), partSize: part, inFlight: 3)
        let (fd, bytes) = try file(size: 6 * part + 123)
        defer { close(fd) }
        let sum = try uploader.upload(fd: fd, path: "big", key: "backups/base-1/data/big")
        try uploader.finish()
        #expect(sum.sha256 == FileDigest.sha256(bytes))
        let methods = bucket.requests.map(\.method)
        #expect(methods.first == "POST" && methods.last == "POST")
        #expect(methods.filter { $0 == "PUT" }.count == 7)
        #expect(bucket.mostRunning <= 3, "requests in flight: \(bucket.mostRunning)")
        var joined: [UInt8] = []
        for n in 1...7 {
            let url = try #require(bucket.parts.keys.first { $0.contains("partNumber=\(n)&") })
            joined += bucket.parts[url]!
        }
        #expect(joined == bytes, "the parts, in order, are the file")
        let complete = try #require(bucket.requests.last)
        #expect(complete.url.hasSuffix("uploadId=U1"))
    }

    @Test func listingXMLIsParsedAndUnescaped() {
        let xml = """
            <ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a/b&amp;c</Key>\
            <Size>12</Size></Contents><CommonPrefixes><Prefix>backups/base-2/</Prefix>\
            </CommonPrefixes><CommonPrefixes><Prefix>backups/base-1/</Prefix></CommonPrefixes>\
            </ListBucketResult>
            """
        #expect(
            S3Client.elements("Contents", in: xml).map { S3Client.xmlText("Key", in: $0) } == [
                "a/b&c"
            ])
        #expect(
            S3Client.elements("CommonPrefixes", in: xml).map { S3Client.xmlText("Prefix", in: $0) }
                == ["backups/base-2/", "backups/base-1/"])
        #expect(S3Client.unescape("&lt;x&#65;&#x42;&gt;") == "<xAB>")
        #expect(S3Client.escape("a&b<c>\"") == "a&amp;b&lt;c&gt;&quot;")
    }

    @Test func backupNamesSortByTime() {
        let early = S3BackupStore.newName(now: Date(timeIntervalSince1970: 1_700_000_000.004))
        let late = S3BackupStore.newName(now: Date(timeIntervalSince1970: 1_700_000_000.120))
        #expect(early == "base-20231114T221320004Z")
        #expect(early < late)
    }

    /// restore's `<DST>.walmgr-s3`: a symlink left there is refused, not removed, and what it
    /// points to stays; a stale directory there is removed.
    @Test func staleDownloadDirNeverFollowsASymlink() throws {
        let base = NSTemporaryDirectory() + "walmgr-s3-stale-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(
            atPath: "\(base)/real", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(base)/real/keep"))
        let link = "\(base)/data.walmgr-s3"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real")
        let guardNone = TargetGuard(keep: [], homes: [])
        #expect(throws: WalmgrFailure.self) {
            try S3RestoreDownload.removeStale(link, guardedBy: guardNone)
        }
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "real")
        #expect(FileManager.default.fileExists(atPath: "\(base)/real/keep"))
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createDirectory(
            atPath: "\(link)/base", withIntermediateDirectories: true)
        try S3RestoreDownload.removeStale(link, guardedBy: guardNone)
        #expect(!FileManager.default.fileExists(atPath: link))
    }
}
