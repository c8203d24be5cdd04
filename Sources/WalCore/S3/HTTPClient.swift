import CCurl
import Foundation

/// One HTTP exchange over libcurl (dlopened on first use, see CCurl's shim).
struct HTTPRequest {
    /// `GET`, `PUT`, `HEAD`.
    var method: String
    /// The full URL.
    var url: String
    /// Headers to send, `Host` included.
    var headers: [(String, String)]
    /// The body of a PUT held in memory (small requests).
    var body: [UInt8] = []
    /// The body of a PUT read from a file as curl sends it (WAL: memory stays bounded).
    var upload: FileBody? = nil
    /// Where a 2xx GET's body goes; nil keeps it in memory (bounded).
    var bodyFD: Int32? = nil
    /// `s3_ca_file`.
    var caFile: String? = nil
}

/// `size` bytes of `fd` from offset 0, and their SHA-256 (hex) for the signature.
struct FileBody {
    let fd: Int32
    let size: Int
    let sha256: String
}

/// What came back.
struct HTTPResponse {
    /// The HTTP status.
    var status: Int
    /// Headers, names lowercased.
    var headers: [String: String]
    /// The body when it was kept in memory (errors, small replies).
    var body: [UInt8]
    /// Bytes written to `bodyFD`.
    var bodyBytesWritten: Int
}

/// Receives bytes from curl's callbacks.
private final class Sink {
    var fd: Int32?
    var memory: [UInt8] = []
    var written = 0
    var failed = false
    static let memoryLimit = 1 << 20

    func take(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let pointer, count > 0 else { return count }
        if let fd {
            let raw = UnsafeRawBufferPointer(start: pointer, count: count)
            do { try Durable.writeAll(fd, raw, path: "download") } catch {
                failed = true
                return 0
            }
            written += count
        } else if memory.count < Self.memoryLimit {
            memory.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count))
        }
        return count
    }
}

/// Feeds an upload to curl's read callback with pread, so a retry can start over.
private final class Source {
    let body: FileBody
    var offset = 0

    init(_ body: FileBody) { self.body = body }

    func give(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        let want = min(count, body.size - offset)
        guard let pointer, want > 0 else { return 0 }
        let n = pread(body.fd, pointer, want, off_t(offset))
        guard n > 0 else { return 0x1000_0000 }  // CURL_READFUNC_ABORT: the file shrank or failed
        offset += n
        return n
    }
}

private let curlRead:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        pointer, size, count, user in
        Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue().give(pointer, size * count)
    }

private let curlWrite:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        pointer, size, count, user in
        Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue().take(pointer, size * count)
    }

enum HTTPClient {
    /// Connect within this many seconds.
    static let connectTimeout = 10
    /// Give up when fewer than 1 KiB/s arrive for this many seconds (a cut link).
    static let stallTimeout = 20

    /// Performs one request. Throws `transport` (no status) when it did not complete.
    static func perform(_ request: HTTPRequest, endpoint: String, what: String) throws(S3Error)
        -> HTTPResponse
    {
        if let message = walmgr_curl_load() {
            throw .libraryMissing(library: "libcurl.so.4", reason: String(cString: message))
        }
        _ = walmgr_curl_global_init(3)  // CURL_GLOBAL_DEFAULT
        guard let curl = walmgr_curl_easy_init() else {
            throw .transport(
                endpoint: endpoint, request: what, reason: "curl_easy_init failed",
                attempts: 1)
        }
        defer { walmgr_curl_easy_cleanup(curl) }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // "Expect:" and "Content-Type:" with no value stop curl from adding its own.
        for (name, value) in request.headers + [("Expect", ""), ("Content-Type", "")] {
            list = walmgr_curl_slist_append(list, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        defer { walmgr_curl_slist_free_all(list) }
        let body = Sink()
        body.fd = request.bodyFD
        let head = Sink()
        let source = request.upload.map(Source.init)
        let code = request.body.withUnsafeBytes { bytes -> CURLcode in
            setOptions(curl, request, list, body, head, bytes)
            if let source { upload(curl, source) }
            return walmgr_curl_easy_perform(curl)
        }
        guard code == CURLE_OK else {
            let reason =
                body.failed
                ? "cannot write the download"
                : String(
                    cString: walmgr_curl_easy_strerror(code))
            // A certificate problem is configuration: retrying cannot fix it.
            if [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM]
                .contains(code)
            {
                throw .untrusted(endpoint: endpoint, request: what, reason: reason)
            }
            throw .transport(endpoint: endpoint, request: what, reason: reason, attempts: 1)
        }
        var status = 0
        _ = walmgr_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(
            status: status, headers: parseHeaders(head.memory), body: body.memory,
            bodyBytesWritten: body.written)
    }

    private static func setOptions(
        _ curl: UnsafeMutableRawPointer, _ request: HTTPRequest,
        _ list: UnsafeMutablePointer<curl_slist>?, _ body: Sink, _ head: Sink,
        _ bytes: UnsafeRawBufferPointer
    ) {
        _ = walmgr_curl_setopt_ptr(curl, CURLOPT_URL, request.url)
        _ = walmgr_curl_setopt_ptr(curl, CURLOPT_HTTPHEADER, list)
        _ = walmgr_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = walmgr_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT, connectTimeout)
        _ = walmgr_curl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1024)
        _ = walmgr_curl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, stallTimeout)
        _ = walmgr_curl_setopt_ptr(curl, CURLOPT_PROTOCOLS_STR, "http,https")
        if let ca = request.caFile { _ = walmgr_curl_setopt_ptr(curl, CURLOPT_CAINFO, ca) }
        let sinkFn = unsafeBitCast(curlWrite, to: UnsafeRawPointer.self)
        _ = walmgr_curl_setopt_ptr(curl, CURLOPT_WRITEFUNCTION, sinkFn)
        _ = walmgr_curl_setopt_ptr(
            curl, CURLOPT_WRITEDATA, Unmanaged.passUnretained(body).toOpaque())
        _ = walmgr_curl_setopt_ptr(curl, CURLOPT_HEADERFUNCTION, sinkFn)
        _ = walmgr_curl_setopt_ptr(
            curl, CURLOPT_HEADERDATA, Unmanaged.passUnretained(head).toOpaque())
        switch request.method {
        case "HEAD": _ = walmgr_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
        case "GET": break
        default:
            _ = walmgr_curl_setopt_ptr(curl, CURLOPT_CUSTOMREQUEST, request.method)
            _ = walmgr_curl_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
            _ = walmgr_curl_setopt_ptr(
                curl, CURLOPT_POSTFIELDS, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
        }
    }

    /// Makes curl read the PUT body from `source` (with Content-Length) instead of memory.
    private static func upload(_ curl: UnsafeMutableRawPointer, _ source: Source) {
        _ = walmgr_curl_setopt_long(curl, CURLOPT_UPLOAD, 1)
        _ = walmgr_curl_setopt_off(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(source.body.size))
        _ = walmgr_curl_setopt_ptr(
            curl, CURLOPT_READFUNCTION, unsafeBitCast(curlRead, to: UnsafeRawPointer.self))
        _ = walmgr_curl_setopt_ptr(
            curl, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque())
    }

    /// `Name: value` lines of the last response (after any 100 Continue), names lowercased.
    static func parseHeaders(_ bytes: [UInt8]) -> [String: String] {
        var headers: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") {
            if line.hasPrefix("HTTP/") { headers = [:]; continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }
}
