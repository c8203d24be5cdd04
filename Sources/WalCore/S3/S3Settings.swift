/// `s3_uri_style`: how the bucket is put into the URL.
public enum S3URIStyle: String, Sendable, CaseIterable {
    /// `https://endpoint/bucket/key` (Ceph RGW, MinIO).
    case path
    /// `https://bucket.endpoint/key` (AWS's default).
    case host
}

/// The `s3_*` keys: where and how to reach an S3-compatible store.
public struct S3Settings: Sendable, Equatable {
    /// `s3_endpoint`: `https://host[:port]`; nil means AWS (`https://s3.<region>.amazonaws.com`).
    public var endpoint: String?
    /// `s3_region` (default `us-east-1`).
    public var region: String
    /// `s3_uri_style` (default `path`).
    public var uriStyle: S3URIStyle
    /// `s3_ca_file`: a PEM file of CAs to trust instead of the system's.
    public var caFile: String?
    /// `s3_credentials_file`: an owner-only file with the keys (see ``S3Credentials``).
    public var credentialsFile: String?
    /// `s3_profile`: the profile in a credentials file (default `AWS_PROFILE`, else `default`).
    public var profile: String?

    /// Creates settings.
    public init(
        endpoint: String? = nil, region: String = "us-east-1", uriStyle: S3URIStyle = .path,
        caFile: String? = nil, credentialsFile: String? = nil, profile: String? = nil
    ) {
        self.endpoint = endpoint
        self.region = region
        self.uriStyle = uriStyle
        self.caFile = caFile
        self.credentialsFile = credentialsFile
        self.profile = profile
    }

    /// The endpoint used: `s3_endpoint` without a trailing `/`, or AWS's for the region.
    public var resolvedEndpoint: String {
        guard var endpoint, !endpoint.isEmpty else { return "https://s3.\(region).amazonaws.com" }
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        return endpoint
    }

    /// Reads the `s3_*` keys.
    init(_ r: ConfigReader) throws(ConfigError) {
        self.init(
            endpoint: try r.string("s3_endpoint"),
            region: try r.string("s3_region") ?? "us-east-1",
            uriStyle: try r.choice("s3_uri_style", default: S3URIStyle.path),
            caFile: try r.path("s3_ca_file"),
            credentialsFile: try r.path("s3_credentials_file"),
            profile: try r.string("s3_profile"))
    }
}

/// `s3://bucket/prefix`: where in a bucket the archive lives.
public struct S3Repository: Sendable, Equatable, CustomStringConvertible {
    /// The bucket.
    public let bucket: String
    /// The key prefix, without leading or trailing `/`; "" for the bucket's root.
    public let prefix: String

    /// True when `text` asks for S3 (starts with `s3://`), valid or not.
    public static func isS3(_ text: String) -> Bool { text.hasPrefix("s3://") }

    /// Parses `s3://bucket[/prefix]`; nil when `text` is not an s3:// URL at all.
    /// - Throws: ``S3Error/badURL`` for an s3:// URL with a bad bucket name.
    public init?(_ text: String, key: String = "completed_wals") throws(S3Error) {
        guard Self.isS3(text) else { return nil }
        let rest = text.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(bucket.count), bucket.allSatisfy(allowed.contains),
            bucket.first != "-", bucket.first != "."
        else { throw .badURL(key: key, value: text) }
        self.bucket = bucket
        self.prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
    }

    /// The object key of `name` under the prefix.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix)/\(name)" }

    public var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }
}
