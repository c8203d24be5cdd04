import Dispatch
import Foundation

/// Streams files into S3 objects, several requests at once, with bounded memory.
///
/// A file is read in parts of `partSize` bytes. One part or less is a single PUT; more is a
/// multipart upload whose parts go up in parallel. The bytes sent are the bytes hashed: each
/// part is uploaded from the buffer it was read into, so a data file PostgreSQL changes during
/// the backup still arrives exactly as its recorded SHA-256 says. At most `inFlight` buffers
/// exist at once (read-ahead included), so memory stays at `inFlight × partSize`.
///
/// `@unchecked Sendable`: `failure` and `etags` are only touched under `lock`; the rest is
/// immutable after init.
final class S3Uploader: @unchecked Sendable {
    /// The default part size: also the size above which a file becomes a multipart upload.
    static let defaultPartSize = 16 << 20
    /// S3's (and RGW's) smallest part but the last.
    static let minimumPartSize = 5 << 20
    /// Requests in flight (and part buffers held).
    static let defaultInFlight = 4

    let client: S3Client
    let partSize: Int
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let queue = DispatchQueue(label: "walmgr.s3-upload", attributes: .concurrent)
    private let lock = NSLock()
    private var failure: (any Error)?
    private var etags: [String: [Int: String]] = [:]

    /// An uploader; `partSize` below S3's minimum is raised to it.
    init(client: S3Client, partSize: Int = defaultPartSize, inFlight: Int = defaultInFlight) {
        self.client = client
        self.partSize = max(Self.minimumPartSize, partSize)
        slots = DispatchSemaphore(value: max(1, inFlight))
    }

    /// The part size from `WALMGR_S3_PART_SIZE` (bytes), else the default.
    static func partSize(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Int
    {
        environment["WALMGR_S3_PART_SIZE"].flatMap(Int.init) ?? defaultPartSize
    }

    /// Uploads the open file `fd` (`path` for messages) as `key`, reading it to its end.
    /// Returns its size and SHA-256 once every request for it is sent (a single PUT may still
    /// be in flight: ``finish()`` waits for those).
    func upload(fd: Int32, path: String, key: String) throws -> (size: Int64, sha256: String) {
        var digest = FileDigest()
        let first = try readPart(fd, path: path, digest: &digest)
        var second: [UInt8] = []
        if first.count == partSize {
            do { second = try readPart(fd, path: path, digest: &digest) } catch {
                slots.signal()  // first's
                throw error
            }
            if second.isEmpty { slots.signal() }
        }
        guard !second.isEmpty else {
            submit { [client] in
                let response = try client.send("PUT", key, body: first)
                guard response.status == 200 else { throw client.failure(response, "PUT", key) }
            }
            return (digest.count, digest.hex())
        }
        try multipart(fd: fd, path: path, key: key, first: first, second: second, digest: &digest)
        return (digest.count, digest.hex())
    }

    /// Waits for every request; throws the first failure.
    func finish() throws {
        group.wait()
        if let failure = takeFailure() { throw failure }
    }

    /// The rest of a file as a multipart upload, completed before it returns.
    private func multipart(
        fd: Int32, path: String, key: String, first: [UInt8], second: [UInt8],
        digest: inout FileDigest
    ) throws {
        let uploadId = try client.createMultipart(key)
        let parts = DispatchGroup()
        var number = 0
        var next: [UInt8]? = first
        var pending: [UInt8]? = second
        do {
            while let part = next {
                number += 1
                let n = number
                submit(group: parts) { [client, self] in
                    let etag = try client.uploadPart(key, uploadId: uploadId, number: n, body: part)
                    self.record(uploadId, n, etag)
                }
                next = pending
                pending = nil
                if next != nil && next!.count == partSize {
                    let more = try readPart(fd, path: path, digest: &digest)
                    if more.isEmpty { slots.signal() }
                    pending = more.isEmpty ? nil : more
                }
            }
            parts.wait()
            if let failure = takeFailure() { throw failure }
            let tags = lock.withLock { etags.removeValue(forKey: uploadId) ?? [:] }
            try client.completeMultipart(
                key, uploadId: uploadId, etags: (1...number).map { tags[$0] ?? "" })
        } catch {
            parts.wait()
            try? client.abortMultipart(key, uploadId: uploadId)
            throw error
        }
    }

    /// Reads up to `partSize` bytes (fewer only at the end of the file) into a fresh buffer,
    /// after taking a slot for it; the bytes are added to `digest`. The caller submits the
    /// buffer (which frees the slot when sent) or signals the slot itself.
    private func readPart(_ fd: Int32, path: String, digest: inout FileDigest) throws -> [UInt8] {
        if let failure = takeFailure() { throw failure }
        slots.wait()
        var buffer = [UInt8](repeating: 0, count: partSize)
        var count = 0
        let result: Int = buffer.withUnsafeMutableBytes { raw in
            while count < partSize {
                let n = read(fd, raw.baseAddress! + count, partSize - count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return n }
                count += n
            }
            return count
        }
        guard result >= 0 else {
            slots.signal()
            throw FileError("read", path)
        }
        buffer.removeLast(partSize - count)
        buffer.withUnsafeBytes { digest.update($0) }
        return buffer
    }

    /// Runs `work` on the pool; it releases the slot its buffer holds when done.
    private func submit(
        group extra: DispatchGroup? = nil, _ work: @escaping @Sendable () throws -> Void
    ) {
        group.enter()
        extra?.enter()
        queue.async { [self] in
            defer {
                slots.signal()
                extra?.leave()
                group.leave()
            }
            do { try work() } catch { lock.withLock { if failure == nil { failure = error } } }
        }
    }

    private func record(_ uploadId: String, _ number: Int, _ etag: String) {
        lock.withLock { etags[uploadId, default: [:]][number] = etag }
    }

    private func takeFailure() -> (any Error)? { lock.withLock { failure } }
}
