/// AWS Signature Version 4 for S3, as pure functions of the request, the key and the time.
///
/// S3's variant: the path is URI-encoded once (not twice as for other services), and the
/// payload hash is sent as `x-amz-content-sha256` and signed. Tested against AWS's published
/// signature test vectors (SigV4Tests).
public enum SigV4 {
    /// One request to sign.
    public struct Request: Sendable {
        /// `GET`, `PUT`, `HEAD`, ...
        public var method: String
        /// The URI path, already encoded with ``encode(_:keepSlash:)``.
        public var path: String
        /// Query parameters, not encoded.
        public var query: [(String, String)]
        /// Headers to sign (name, value); `host` and `x-amz-date` must be among them.
        public var headers: [(String, String)]
        /// Hex SHA-256 of the body (or `UNSIGNED-PAYLOAD`).
        public var payloadHash: String

        /// Creates a request.
        public init(
            method: String, path: String, query: [(String, String)] = [],
            headers: [(String, String)], payloadHash: String
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// The key and scope to sign with.
    public struct Key: Sendable {
        /// The access key id.
        public var accessKeyId: String
        /// The secret key.
        public var secret: String
        /// The region, e.g. `us-east-1`.
        public var region: String
        /// The service, `s3`.
        public var service: String

        /// Creates a key.
        public init(accessKeyId: String, secret: String, region: String, service: String = "s3") {
            self.accessKeyId = accessKeyId
            self.secret = secret
            self.region = region
            self.service = service
        }
    }

    /// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~` (and `/` when `keepSlash`).
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber) || "-._~".contains(c)
                || (keepSlash && c == "/")
            {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// The canonical query string: encoded pairs sorted by name, then value.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (encode($0.0), encode($0.1)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The canonical request and the signed header list.
    public static func canonicalRequest(_ request: Request) -> (text: String, signed: String) {
        let headers = request.headers
            .map { ($0.0.lowercased(), $0.1.trimmingSpaces) }
            .sorted { $0.0 < $1.0 }
        let signed = headers.map(\.0).joined(separator: ";")
        let text = [
            request.method, request.path, canonicalQuery(request.query),
            headers.map { "\($0.0):\($0.1)\n" }.joined(), signed, request.payloadHash,
        ].joined(separator: "\n")
        return (text, signed)
    }

    /// The string to sign for a canonical request made at `amzDate` (`YYYYMMDDTHHMMSSZ`).
    public static func stringToSign(canonical: String, amzDate: String, key: Key) -> String {
        [
            "AWS4-HMAC-SHA256", amzDate, scope(amzDate: amzDate, key: key),
            Digest.hex(Digest.sha256(Array(canonical.utf8))),
        ].joined(separator: "\n")
    }

    /// `date/region/service/aws4_request`.
    public static func scope(amzDate: String, key: Key) -> String {
        "\(amzDate.prefix(8))/\(key.region)/\(key.service)/aws4_request"
    }

    /// The derived signing key.
    public static func signingKey(date: String, key: Key) -> [UInt8] {
        var k = Array("AWS4\(key.secret)".utf8)
        for part in [date, key.region, key.service, "aws4_request"] {
            k = Digest.hmacSHA256(key: k, Array(part.utf8))
        }
        return k
    }

    /// The `Authorization` header value.
    public static func authorization(_ request: Request, amzDate: String, key: Key) -> String {
        let (canonical, signed) = canonicalRequest(request)
        let toSign = stringToSign(canonical: canonical, amzDate: amzDate, key: key)
        let signature = Digest.hmacSHA256(
            key: signingKey(date: String(amzDate.prefix(8)), key: key), Array(toSign.utf8))
        return
            "AWS4-HMAC-SHA256 Credential=\(key.accessKeyId)/\(scope(amzDate: amzDate, key: key)), "
            + "SignedHeaders=\(signed), Signature=\(Digest.hex(signature))"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    /// Leading/trailing spaces trimmed and inner runs of spaces collapsed (SigV4's header rule).
    fileprivate var trimmingSpaces: String {
        split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
