import Foundation
import Testing

@testable import WalCore

/// SigV4 against AWS's published signature test vectors (aws-sig-v4-test-suite, 2015-08-30,
/// key AKIDEXAMPLE) and the S3 GetObject example of the S3 API reference.
@Suite struct S3SigV4Tests {
    static let key = SigV4.Key(
        accessKeyId: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1", service: "service")
    static let date = "20150830T123600Z"
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let baseHeaders = [("Host", "example.amazonaws.com"), ("X-Amz-Date", date)]

    func authorization(_ method: String, query: [(String, String)] = []) -> String {
        SigV4.authorization(
            SigV4.Request(
                method: method, path: "/", query: query, headers: Self.baseHeaders,
                payloadHash: Self.emptyHash),
            amzDate: Self.date, key: Self.key)
    }

    func prefix() -> String {
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature="
    }

    @Test func getVanilla() throws {
        try Digest.load()
        let request = SigV4.Request(
            method: "GET", path: "/", headers: Self.baseHeaders, payloadHash: Self.emptyHash)
        let canonical = SigV4.canonicalRequest(request).text
        #expect(
            canonical
                == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "host;x-amz-date\n\(Self.emptyHash)")
        #expect(
            SigV4.stringToSign(canonical: canonical, amzDate: Self.date, key: Self.key)
                == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                + "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
        #expect(
            authorization("GET")
                == prefix() + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func postVanilla() throws {
        try Digest.load()
        #expect(
            authorization("POST")
                == prefix() + "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    @Test func getVanillaQueryOrderKeyCase() throws {
        try Digest.load()
        let query = [("Param2", "value2"), ("Param1", "value1")]
        #expect(SigV4.canonicalQuery(query) == "Param1=value1&Param2=value2")
        #expect(
            authorization("GET", query: query)
                == prefix() + "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    /// The S3 API reference's GetObject example: S3's own headers, range, signed payload hash.
    @Test func s3GetObjectExample() throws {
        try Digest.load()
        let key = SigV4.Key(
            accessKeyId: "AKIAIOSFODNN7EXAMPLE",
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let request = SigV4.Request(
            method: "GET", path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", Self.emptyHash), ("x-amz-date", "20130524T000000Z"),
            ], payloadHash: Self.emptyHash)
        let canonical = SigV4.canonicalRequest(request).text
        #expect(
            Digest.hex(Digest.sha256(Array(canonical.utf8)))
                == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
        #expect(
            SigV4.authorization(request, amzDate: "20130524T000000Z", key: key).hasSuffix(
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                    + " Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        )
    }

    @Test func encodingKeepsUnreservedAndSlashOnly() {
        #expect(SigV4.encode("a b/c~d", keepSlash: true) == "a%20b/c~d")
        #expect(SigV4.encode("a/b=c+é") == "a%2Fb%3Dc%2B%C3%A9")
    }

    @Test func digestsMatchKnownValues() throws {
        try Digest.load()
        #expect(
            Digest.hex(Digest.sha256(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.hex(Digest.md5([])) == "d41d8cd98f00b204e9800998ecf8427e")
    }

    /// A file's digests: both by default, the SHA-256 alone (no MD5 pass) with `md5: false`.
    @Test func fileDigestsSkipMD5WhenNotWanted() throws {
        try Digest.load()
        let file = try MemoryFile(Array("abc".utf8))
        defer { close(file.fd) }
        let both = try Digest.file(file.fd, size: 3, path: "abc")
        #expect(Digest.hex(both.md5) == "900150983cd24fb0d6963f7d28e17f72")
        let shaOnly = try Digest.file(file.fd, size: 3, path: "abc", md5: false)
        #expect(shaOnly.md5.isEmpty)
        #expect(shaOnly.sha256 == both.sha256)
        #expect(shaOnly.sha256 == Digest.sha256(Array("abc".utf8)))
    }
}
