import Foundation
import Testing

@testable import WalCore

/// S3Client without a server: retries, error messages, addressing and signed headers.
@Suite struct S3ClientTests {
    /// What the scripted transport saw and still has to answer.
    final class Script: @unchecked Sendable {
        private let lock = NSLock()
        private var answers: [Int?]
        private(set) var requests: [HTTPRequest] = []

        init(_ answers: [Int?]) { self.answers = answers }

        /// Records a request and returns the next answer (200 when the script is used up).
        func next(_ request: HTTPRequest) -> Int? {
            lock.withLock {
                requests.append(request)
                return answers.isEmpty ? 200 : answers.removeFirst()
            }
        }
    }

    static let credentials = S3Credentials(
        accessKeyId: "TESTKEYID", secret: "never-shown-secret", sessionToken: nil, source: "test")

    /// A client whose transport answers from `script` in order (nil = a transport failure),
    /// counting calls.
    func client(_ script: Script, style: S3URIStyle = .path) throws -> S3Client {
        try Digest.load()
        var client = S3Client(
            settings: S3Settings(endpoint: "https://rgw.example.com:8443/", uriStyle: style),
            repository: try #require(try S3Repository("s3://bucket/pre")),
            credentials: Self.credentials)
        client.backoff = .zero
        client.transport = { (request, endpoint, what) throws(S3Error) -> HTTPResponse in
            guard let status = script.next(request) else {
                throw .transport(
                    endpoint: endpoint, request: what, reason: "timed out", attempts: 1)
            }
            let body =
                status == 403 ? Array("<Error><Code>SignatureDoesNotMatch</Code></Error>".utf8) : []
            return HTTPResponse(status: status, headers: [:], body: body, bodyBytesWritten: 0)
        }
        return client
    }

    @Test func serverErrorsAndTimeoutsAreRetriedThenSucceed() throws {
        let script = Script([503, nil, 500])
        #expect(try client(script).send("PUT", "pre/x", body: [1, 2, 3]).status == 200)
        #expect(script.requests.count == 4)
    }

    @Test func retriesAreBoundedAndTheLastFailureIsReported() throws {
        let script = Script([nil, nil, nil, nil, nil, nil])
        let s3 = try client(script)
        let error = #expect(throws: S3Error.self) { try s3.send("GET", "pre/x") }
        #expect(script.requests.count == 5)
        #expect(
            "\(error!)".contains("https://rgw.example.com:8443 for GET s3://bucket/pre/x after 5"))
        let fives = try client(Script([503, 503, 503, 503, 503, 503]))
        #expect(try fives.send("GET", "pre/x").status == 503)
    }

    @Test func clientErrorsAreNotRetriedAndNameTheKeyIdNotTheSecret() throws {
        let script = Script([403])
        let s3 = try client(script)
        let response = try s3.send("PUT", "pre/x")
        #expect(response.status == 403 && script.requests.count == 1)
        let message = "\(s3.failure(response, "PUT", "pre/x"))"
        #expect(message.contains("https://rgw.example.com:8443") && message.contains("TESTKEYID"))
        #expect(
            message.contains("SignatureDoesNotMatch") && !message.contains("never-shown-secret"))
        let sent = script.requests[0]
        #expect(!sent.headers.contains { $0.1.contains("never-shown-secret") })
        #expect(!sent.url.contains("never-shown-secret"))
    }

    @Test func pathAndHostStyleAddressing() throws {
        let script = Script([])
        _ = try client(script).send("PUT", "pre/a b", body: [1])
        _ = try client(script, style: .host).send("GET", "pre/a b")
        let (path, host) = (script.requests[0], script.requests[1])
        #expect(path.url == "https://rgw.example.com:8443/bucket/pre/a%20b")
        #expect(path.headers.contains { $0 == ("host", "rgw.example.com:8443") })
        #expect(
            path.headers.contains {
                $0 == ("x-amz-content-sha256", Digest.hex(Digest.sha256([1])))
            })
        #expect(path.headers.contains { $0.0 == "Authorization" && $0.1.contains("TESTKEYID/") })
        #expect(host.url == "https://bucket.rgw.example.com:8443/pre/a%20b")
        #expect(host.headers.contains { $0 == ("host", "bucket.rgw.example.com:8443") })
    }

    /// Temporary credentials: the session token is sent as x-amz-security-token and signed.
    @Test func sessionTokenIsSentAndSigned() throws {
        try Digest.load()
        let client = S3Client(
            settings: S3Settings(endpoint: "https://s3.example.com"),
            repository: try #require(try S3Repository("s3://bucket")),
            credentials: S3Credentials(
                accessKeyId: "TMPKEY", secret: "tmpsecret", sessionToken: "TOKEN123",
                source: "test"))
        let request = client.signed("GET", "x", extra: [], body: [], bodyFD: nil, now: 0)
        #expect(request.headers.contains { $0 == ("x-amz-security-token", "TOKEN123") })
        let auth = try #require(request.headers.first { $0.0 == "Authorization" }?.1)
        #expect(
            auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token")
        )
        #expect(auth.contains("Credential=TMPKEY/19700101/us-east-1/s3/aws4_request"))
        #expect(request.headers.contains { $0 == ("x-amz-date", "19700101T000000Z") })
    }
}
