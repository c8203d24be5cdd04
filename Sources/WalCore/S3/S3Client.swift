import Foundation

/// Signed requests to one bucket of an S3-compatible store, with bounded retries.
struct S3Client {
    let settings: S3Settings
    let credentials: S3Credentials
    let repository: S3Repository
    /// Tries per request: a 5xx or a transport failure is retried, anything else is final.
    var attempts = 5
    /// The first pause between tries; it doubles (0.2, 0.4, 0.8, 1.6 s: ~3 s in all).
    var backoff: Duration = .milliseconds(200)
    /// Performs one HTTP exchange; tests replace it to script answers and failures.
    var transport: @Sendable (HTTPRequest, String, String) throws(S3Error) -> HTTPResponse =
        HTTPClient.perform

    /// The endpoint, for messages.
    var endpoint: String { settings.resolvedEndpoint }

    /// Loads libcrypto and the credentials.
    init(settings: S3Settings, repository: S3Repository) throws(S3Error) {
        try Digest.load()
        self.init(
            settings: settings, repository: repository,
            credentials: try S3Credentials.resolve(settings))
    }

    /// A client with the given credentials (tests).
    init(settings: S3Settings, repository: S3Repository, credentials: S3Credentials) {
        self.settings = settings
        self.repository = repository
        self.credentials = credentials
    }

    /// `s3://bucket/key`, for messages.
    func describe(_ key: String) -> String { "s3://\(repository.bucket)/\(key)" }

    /// The URL, Host header and signed path of an object.
    func address(_ key: String) -> (url: String, host: String, path: String) {
        let endpoint = self.endpoint
        let schemeEnd = endpoint.range(of: "://")
        let scheme = schemeEnd.map { String(endpoint[..<$0.lowerBound]) } ?? "https"
        let rest = schemeEnd.map { String(endpoint[$0.upperBound...]) } ?? endpoint
        var host = String(rest.prefix { $0 != "/" })
        let base = String(rest.dropFirst(host.count))
        var path = base + "/" + SigV4.encode(key, keepSlash: true)
        if settings.uriStyle == .host {
            host = "\(repository.bucket).\(host)"
        } else {
            path = base + "/\(repository.bucket)/" + SigV4.encode(key, keepSlash: true)
        }
        return ("\(scheme)://\(host)\(path)", host, path)
    }

    /// Sends a request, retrying 5xx answers and transport failures with back-off.
    func send(
        _ method: String, _ key: String, query: [(String, String)] = [],
        headers extra: [(String, String)] = [], body: [UInt8] = [], upload: FileBody? = nil,
        bodyFD: Int32? = nil
    ) throws(S3Error) -> HTTPResponse {
        let what = "\(method) \(describe(key))"
        var pause = backoff
        for attempt in 1...attempts {
            if let fd = bodyFD {
                _ = ftruncate(fd, 0)
                _ = lseek(fd, 0, SEEK_SET)
            }
            let request = signed(
                method, key, query: query, extra: extra, body: body, upload: upload,
                bodyFD: bodyFD)
            do {
                let response = try transport(request, endpoint, what)
                if response.status < 500 || attempt == attempts { return response }
            } catch {
                if case .transport(_, _, let reason, _) = error, attempt == attempts {
                    throw .transport(
                        endpoint: endpoint, request: what, reason: reason,
                        attempts: attempt)
                }
                if case .transport = error {} else { throw error }
            }
            if pause > .zero { Thread.sleep(forTimeInterval: Double(pause.milliseconds) / 1000) }
            pause = pause * 2
        }
        fatalError("unreachable: the last attempt returns or throws")
    }

    /// The request with `x-amz-date`, `x-amz-content-sha256` and `Authorization` added.
    func signed(
        _ method: String, _ key: String, query: [(String, String)] = [],
        extra: [(String, String)], body: [UInt8], upload: FileBody? = nil, bodyFD: Int32?,
        now: time_t = time(nil)
    ) -> HTTPRequest {
        let (url, host, path) = address(key)
        let queryText = SigV4.canonicalQuery(query)
        var headers = [
            ("host", host), ("x-amz-date", Self.amzDate(now)),
            ("x-amz-content-sha256", upload?.sha256 ?? Digest.hex(Digest.sha256(body))),
        ]
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        headers += extra
        let key = SigV4.Key(
            accessKeyId: credentials.accessKeyId, secret: credentials.secret,
            region: settings.region)
        let auth = SigV4.authorization(
            SigV4.Request(
                method: method, path: path, query: query, headers: headers,
                payloadHash: headers[2].1),
            amzDate: headers[1].1, key: key)
        return HTTPRequest(
            method: method, url: queryText.isEmpty ? url : "\(url)?\(queryText)",
            headers: headers + [("Authorization", auth)], body: body, upload: upload,
            bodyFD: bodyFD, caFile: settings.caFile)
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    static func amzDate(_ t: time_t) -> String {
        var clock = t
        var tm = tm()
        gmtime_r(&clock, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)\(two(tm.tm_mon + 1))\(two(tm.tm_mday))T"
            + "\(two(tm.tm_hour))\(two(tm.tm_min))\(two(tm.tm_sec))Z"
    }

    /// The error for a final non-2xx answer: 403 names the endpoint and key id.
    func failure(_ response: HTTPResponse, _ method: String, _ key: String) -> S3Error {
        let code = Self.xmlValue("Code", in: response.body)
        if response.status == 403 {
            return .accessDenied(
                endpoint: endpoint, object: describe(key), keyId: credentials.accessKeyId,
                code: code.isEmpty ? "AccessDenied" : code)
        }
        return .status(
            endpoint: endpoint, request: "\(method) \(describe(key))", status: response.status,
            code: code, message: Self.xmlValue("Message", in: response.body))
    }

    /// The text of `<tag>…</tag>` in an S3 error body, or "".
    static func xmlValue(_ tag: String, in body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(8192), as: UTF8.self)
        guard let open = text.range(of: "<\(tag)>"),
            let close = text.range(of: "</\(tag)>", range: open.upperBound..<text.endIndex)
        else { return "" }
        return String(text[open.upperBound..<close.lowerBound])
    }
}
