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

    /// Uploads the open file `fd` (`path` for messages) as `key`: the bytes up to its size at
    /// this moment (what pg_basebackup sends too: WAL replay from the backup's start repairs a
    /// file that grows or shrinks meanwhile). Returns its size and SHA-256 once every request
    /// for it is sent (a single PUT may still be in flight: ``finish()`` waits for those).
    func upload(fd: Int32, path: String, key: String) throws -> (size: Int64, sha256: String) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError("stat", path) }
        let size = Int(st.st_size)
        var digest = FileDigest()
        if size <= partSize {
            let body = try readPart(fd, limit: size, path: path, digest: &digest)
            submit { [client] in
                let response = try client.send("PUT", key, body: body)
                guard response.status == 200 else { throw client.failure(response, "PUT", key) }
            }
        } else {
            try multipart(fd: fd, size: size, path: path, key: key, digest: &digest)
        }
        return (digest.count, digest.hex())
    }

    /// Waits for every request; throws the first failure.
    func finish() throws {
        group.wait()
        if let failure = takeFailure() { throw failure }
    }

    /// A file of more than one part as a multipart upload, completed before it returns.
    private func multipart(
        fd: Int32, size: Int, path: String, key: String, digest: inout FileDigest
    ) throws {
        let uploadId = try client.createMultipart(key)
        let parts = DispatchGroup()
        var number = 0
        do {
            while Int(digest.count) < size {
                let part = try readPart(
                    fd, limit: min(partSize, size - Int(digest.count)), path: path,
                    digest: &digest)
                if part.isEmpty && number > 0 {  // the file shrank: what was read is all
                    slots.signal()
                    break
                }
                number += 1
                let n = number
                submit(group: parts) { [client, self] in
                    let etag = try client.uploadPart(key, uploadId: uploadId, number: n, body: part)
                    self.record(uploadId, n, etag)
                }
                if part.count < partSize { break }
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

    /// Reads up to `limit` bytes (fewer only at the end of the file) into a fresh buffer of
    /// that size, after taking a slot for it; the bytes are added to `digest`. The caller
    /// submits the buffer (which frees the slot when sent) or signals the slot itself.
    private func readPart(_ fd: Int32, limit: Int, path: String, digest: inout FileDigest)
        throws -> [UInt8]
    {
        if let failure = takeFailure() { throw failure }
        slots.wait()
        var failed = false
        // Not zero-filled first: the bytes are read straight into the new array.
        let buffer = [UInt8](unsafeUninitializedCapacity: limit) { raw, count in
            count = 0
            while count < limit {
                let n = read(fd, raw.baseAddress! + count, limit - count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failed = true }
                if n <= 0 { break }
                count += n
            }
        }
        guard !failed else {
            slots.signal()
            throw FileError("read", path)
        }
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
