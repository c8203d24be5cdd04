import Foundation
import Testing

@testable import WalCore

/// ListObjectsV2 without a server: pages followed by their continuation token, XML parsed.
@Suite struct S3ListTests {
    /// A page of `keys`, truncated with `next` when given.
    static func page(_ keys: [String], next: String?) -> [UInt8] {
        let contents = keys.map {
            "<Contents><Key>\($0)</Key><LastModified>2026-11-30T03:47:37.204Z</LastModified>"
                + "<ETag>&quot;x&quot;</ETag><Size>16777216</Size></Contents>"
        }.joined()
        let tail =
            next.map {
                "<IsTruncated>true</IsTruncated><NextContinuationToken>\($0)"
                    + "</NextContinuationToken>"
            } ?? "<IsTruncated>false</IsTruncated>"
        return Array(
            "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name>\(contents)\(tail)</ListBucketResult>"
                .utf8)
    }

    @Test func followsContinuationTokensUntilTheLastPage() throws {
        try Digest.load()
        let seen = S3ClientTests.Script([])
        var client = S3Client(
            settings: S3Settings(endpoint: "https://rgw.example.com"),
            repository: try #require(try S3Repository("s3://bucket/pre")),
            credentials: S3ClientTests.credentials)
        let pages = [
            Self.page(["pre/000000010000000000000001", "pre/a&amp;b"], next: "tok/1+="),
            Self.page(["pre/000000010000000000000002.zst"], next: nil),
        ]
        client.transport = { (request, _, _) throws(S3Error) -> HTTPResponse in
            let index = seen.requests.count
            _ = seen.next(request)
            return HTTPResponse(status: 200, headers: [:], body: pages[index], bodyBytesWritten: 0)
        }
        let objects = try client.list(prefix: "pre/", pageSize: 2)
        #expect(
            objects.map(\.key)
                == ["pre/000000010000000000000001", "pre/a&b", "pre/000000010000000000000002.zst"])
        #expect(objects.allSatisfy { $0.size == 16 << 20 })
        #expect(objects.first?.lastModified == Date(timeIntervalSince1970: 1_796_010_457))
        #expect(seen.requests.count == 2)
        #expect(!seen.requests[0].url.contains("continuation-token"))
        #expect(seen.requests[1].url.contains("continuation-token=tok%2F1%2B%3D"))
        #expect(seen.requests[1].url.contains("max-keys=2"))
    }

    @Test func aTruncatedPageWithoutATokenIsAnError() throws {
        try Digest.load()
        var client = S3Client(
            settings: S3Settings(endpoint: "https://rgw.example.com"),
            repository: try #require(try S3Repository("s3://bucket")),
            credentials: S3ClientTests.credentials)
        client.transport = { (_, _, _) throws(S3Error) -> HTTPResponse in
            HTTPResponse(
                status: 200, headers: [:], body: Array("<IsTruncated>true</IsTruncated>".utf8),
                bodyBytesWritten: 0)
        }
        #expect(throws: S3Error.self) { try client.list(prefix: "") }
    }
}
