import Foundation

/// One object of a listing.
struct S3Object: Equatable {
    /// The full key (prefix included).
    let key: String
    /// Its size in bytes.
    let size: Int
    /// When it was stored (`LastModified`), if the server said.
    let lastModified: Date?
}

extension S3Client {
    /// Every object whose key starts with `prefix`, in key order: ListObjectsV2, one request per
    /// `pageSize` keys, following the continuation token until the listing is complete.
    func list(prefix: String, pageSize: Int = 1000) throws(S3Error) -> [S3Object] {
        try listing(prefix: prefix, delimiter: nil, pageSize: pageSize).objects
    }

    /// The "directories" one level below `prefix`: the common prefixes up to the next
    /// `delimiter`, e.g. `pre/base-1/` for `pre/` and `/`.
    func commonPrefixes(prefix: String, delimiter: String = "/") throws(S3Error) -> [String] {
        try listing(prefix: prefix, delimiter: delimiter, pageSize: 1000).prefixes
    }

    private func listing(prefix: String, delimiter: String?, pageSize: Int) throws(S3Error) -> (
        objects: [S3Object], prefixes: [String]
    ) {
        var objects: [S3Object] = []
        var prefixes: [String] = []
        var token: String? = nil
        repeat {
            var query = [("list-type", "2"), ("max-keys", String(pageSize)), ("prefix", prefix)]
            if let delimiter { query.append(("delimiter", delimiter)) }
            if let token { query.append(("continuation-token", token)) }
            let response = try send("GET", "", query: query)
            guard response.status == 200 else {
                throw failure(response, "GET (list)", prefix)
            }
            let page = Self.parseListing(response.body)
            objects += page.objects
            prefixes += page.prefixes
            token = page.truncated ? page.next : nil
            if page.truncated && (token ?? "").isEmpty {
                throw .status(
                    endpoint: endpoint, request: "GET (list) \(describe(prefix))", status: 200,
                    code: "", message: "the listing is truncated but has no continuation token")
            }
        } while token != nil
        return (objects, prefixes)
    }

    /// The objects, common prefixes, `IsTruncated` and `NextContinuationToken` of one
    /// ListObjectsV2 page.
    static func parseListing(_ body: [UInt8]) -> (
        objects: [S3Object], prefixes: [String], truncated: Bool, next: String?
    ) {
        let text = String(decoding: body, as: UTF8.self)
        var objects: [S3Object] = []
        for entry in elements("Contents", in: text) {
            guard let key = elements("Key", in: entry).first else { continue }
            objects.append(
                S3Object(
                    key: unescape(key),
                    size: elements("Size", in: entry).first.flatMap { Int($0) } ?? 0,
                    lastModified: elements("LastModified", in: entry).first.flatMap(parseTime)))
        }
        return (
            objects, elements("CommonPrefixes", in: text).map { xmlText("Prefix", in: $0) },
            elements("IsTruncated", in: text).first == "true",
            elements("NextContinuationToken", in: text).first.map(unescape)
        )
    }

    /// `2026-11-30T03:47:37.204Z` (fractions dropped).
    static func parseTime(_ text: String) -> Date? {
        let fields = text.prefix(19).split(whereSeparator: { "-T:".contains($0) }).compactMap {
            Int32($0)
        }
        guard fields.count == 6 else { return nil }
        var tm = tm()
        tm.tm_year = fields[0] - 1900
        tm.tm_mon = fields[1] - 1
        tm.tm_mday = fields[2]
        tm.tm_hour = fields[3]
        tm.tm_min = fields[4]
        tm.tm_sec = fields[5]
        return Date(timeIntervalSince1970: Double(timegm(&tm)))
    }
}
