import Foundation

/// Listing, bulk deletion and multipart uploads: what a backup repository needs beyond the
/// single-object PUT/GET/HEAD of the WAL archive.
extension S3Client {
    /// Deletes `keys` with DeleteObjects, 1000 per request; a key that is already gone counts
    /// as deleted.
    func delete(_ keys: [String]) throws {
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(keys.count, start + 1000)]
            let body = Array(
                ("<Delete><Quiet>true</Quiet>"
                    + batch.map { "<Object><Key>\(Self.escape($0))</Key></Object>" }.joined()
                    + "</Delete>").utf8)
            let response = try send(
                "POST", "", query: [("delete", "")],
                headers: [("Content-MD5", Data(Digest.md5(body)).base64EncodedString())],
                body: body)
            guard response.status == 200 else { throw failure(response, "POST (delete)", "") }
            let errors = Self.elements("Error", in: String(decoding: response.body, as: UTF8.self))
            if let first = errors.first {
                throw S3Error.status(
                    endpoint: endpoint,
                    request: "DELETE \(describe(Self.xmlText("Key", in: first)))",
                    status: 200, code: Self.xmlText("Code", in: first),
                    message: Self.xmlText("Message", in: first))
            }
        }
    }

    /// Starts a multipart upload; returns its upload id.
    func createMultipart(_ key: String, headers: [(String, String)] = []) throws -> String {
        let response = try send("POST", key, query: [("uploads", "")], headers: headers)
        let id = Self.xmlText("UploadId", in: String(decoding: response.body, as: UTF8.self))
        guard response.status == 200, !id.isEmpty else {
            throw failure(response, "POST (create multipart upload)", key)
        }
        return id
    }

    /// Uploads part `number` (from 1); returns its ETag.
    func uploadPart(_ key: String, uploadId: String, number: Int, body: [UInt8]) throws -> String {
        let response = try send(
            "PUT", key, query: [("partNumber", String(number)), ("uploadId", uploadId)],
            body: body)
        guard response.status == 200, let etag = response.headers["etag"] else {
            throw failure(response, "PUT (part \(number))", key)
        }
        return etag
    }

    /// Completes a multipart upload from its parts' ETags (in part order).
    func completeMultipart(_ key: String, uploadId: String, etags: [String]) throws {
        let parts = etags.enumerated().map { i, etag in
            "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(Self.escape(etag))</ETag></Part>"
        }
        let body = Array(
            ("<CompleteMultipartUpload>" + parts.joined() + "</CompleteMultipartUpload>").utf8)
        let response = try send("POST", key, query: [("uploadId", uploadId)], body: body)
        // S3 may answer 200 with an <Error> body when the completion failed late.
        let text = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200, !text.contains("<Error>") else {
            throw failure(response, "POST (complete multipart upload)", key)
        }
    }

    /// Aborts a multipart upload: its parts are freed. An unknown id counts as aborted.
    func abortMultipart(_ key: String, uploadId: String) throws {
        let response = try send("DELETE", key, query: [("uploadId", uploadId)])
        guard [200, 204, 404].contains(response.status) else {
            throw failure(response, "DELETE (abort multipart upload)", key)
        }
    }

    /// The multipart uploads in progress under `prefix`: (key, upload id).
    func multipartUploads(prefix: String) throws -> [(key: String, uploadId: String)] {
        var uploads: [(String, String)] = []
        var marker: (key: String, id: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let marker {
                query += [("key-marker", marker.key), ("upload-id-marker", marker.id)]
            }
            let response = try send("GET", "", query: query)
            guard response.status == 200 else { throw failure(response, "GET (uploads)", prefix) }
            let xml = String(decoding: response.body, as: UTF8.self)
            uploads += Self.elements("Upload", in: xml).map {
                (Self.xmlText("Key", in: $0), Self.xmlText("UploadId", in: $0))
            }
            marker =
                Self.xmlText("IsTruncated", in: xml) == "true"
                ? (
                    Self.xmlText("NextKeyMarker", in: xml),
                    Self.xmlText("NextUploadIdMarker", in: xml)
                )
                : nil
        } while marker != nil
        return uploads
    }

    /// The inner texts of every `<tag>…</tag>` in `xml`, in order.
    static func elements(_ tag: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(tag)>"),
            let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex)
        {
            out.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out
    }

    /// The unescaped text of the first `<tag>…</tag>` in `xml`, or "".
    static func xmlText(_ tag: String, in xml: String) -> String {
        unescape(elements(tag, in: xml).first ?? "")
    }

    /// XML's five entities (and numeric ones) decoded.
    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            let named = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]
            if let value = named[String(entity)] {
                out += value
            } else if entity.hasPrefix("#"), let scalar = numericEntity(entity.dropFirst()) {
                out.unicodeScalars.append(scalar)
            } else {
                out += rest[amp...semi]
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    private static func numericEntity(_ digits: Substring) -> Unicode.Scalar? {
        let value =
            digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
        return value.flatMap(Unicode.Scalar.init)
    }

    /// Text escaped for an XML element.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(
            of: "<", with: "&lt;"
        )
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
