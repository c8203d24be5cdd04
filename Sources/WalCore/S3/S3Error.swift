/// Talking to an S3-compatible object store failed. Messages name the endpoint, the bucket and
/// object and the access key id, never the secret.
public enum S3Error: WalmgrError, Equatable {
    /// libcurl or libcrypto could not be loaded.
    case libraryMissing(library: String, reason: String)
    /// `completed_wals = s3://…` is not `s3://bucket[/prefix]`.
    case badURL(key: String, value: String)
    /// No credentials were found anywhere walmgr looks.
    case noCredentials(tried: [String])
    /// A credentials file is unsafe or unreadable.
    case badCredentialsFile(path: String, reason: String)
    /// The server refused the credentials (403).
    case accessDenied(endpoint: String, object: String, keyId: String, code: String)
    /// The server answered with an unexpected status.
    case status(endpoint: String, request: String, status: Int, code: String, message: String)
    /// The server's certificate was not trusted (or the CA file is unusable): not retried.
    case untrusted(endpoint: String, request: String, reason: String)
    /// The request did not complete (connection, TLS, timeout), after the retries.
    case transport(endpoint: String, request: String, reason: String, attempts: Int)
    /// An object of that name exists with other content; it was kept.
    case conflict(object: String, existing: String, new: String)
    /// The WAL is stored under another suffix (another compress_method) with other content.
    case conflictOtherSuffix(existing: String, wanted: String, existingSHA: String, newSHA: String)
    /// A downloaded object is not what its metadata says.
    case corruptDownload(object: String, reason: String)

    public var description: String {
        switch self {
        case .libraryMissing(let library, let reason):
            return "cannot load \(library) for the s3:// repository (\(reason)); install libcurl4 "
                + "(apt-get install libcurl4), which brings OpenSSL's libcrypto"
        case .badURL(let key, let value):
            return "\(key) = \(value) is not an S3 repository URL: write s3://BUCKET or "
                + "s3://BUCKET/PREFIX (bucket names are 3-63 characters: a-z 0-9 . -)"
        case .noCredentials(let tried):
            return "no S3 credentials found (looked in: \(tried.joined(separator: ", "))); set "
                + "s3_credentials_file = /etc/walmgr/s3.credentials (mode 0600) in the config, or "
                + "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials"
        case .badCredentialsFile(let path, let reason):
            return "S3 credentials file \(path): \(reason)"
        case .accessDenied(let endpoint, let object, let keyId, let code):
            return "S3 at \(endpoint) refused access key id \(keyId) for \(object) (\(code)): "
                + "check that the key id exists and its secret is right in the credentials "
                + "source, and that it may write the bucket"
        case .status(let endpoint, let request, let status, let code, let message):
            return "S3 at \(endpoint) answered \(request) with HTTP \(status)"
                + (code.isEmpty ? "" : " \(code)") + (message.isEmpty ? "" : ": \(message)")
        case .untrusted(let endpoint, let request, let reason):
            return "cannot reach S3 at \(endpoint) for \(request): \(reason); if the endpoint uses "
                + "a private CA, name its PEM file in s3_ca_file. Nothing was stored; PostgreSQL "
                + "retries the command"
        case .transport(let endpoint, let request, let reason, let attempts):
            let tls =
                reason.contains("certificate") || reason.contains("SSL")
                ? " (a private CA: name its PEM file in s3_ca_file)" : ""
            return "cannot reach S3 at \(endpoint) for \(request) after \(attempts) attempt(s): "
                + "\(reason)\(tls). Nothing was stored; PostgreSQL retries the command"
        case .conflict(let object, let existing, let new):
            return "\(object) already exists in S3 with different content (sha256 \(existing), "
                + "this WAL is sha256 \(new)); it was kept and nothing was overwritten. Two "
                + "clusters may be archiving into the same prefix: check completed_wals"
        case .conflictOtherSuffix(let existing, let wanted, let existingSHA, let newSHA):
            return "\(existing) already holds this WAL file with different content (its WAL "
                + "sha256 \(existingSHA), this WAL is sha256 \(newSHA)); \(wanted) was not stored "
                + "and nothing was overwritten. Two clusters may be archiving into the same "
                + "prefix: check completed_wals"
        case .corruptDownload(let object, let reason):
            return "downloaded \(object) is damaged: \(reason); it was not handed to PostgreSQL"
        }
    }
}
