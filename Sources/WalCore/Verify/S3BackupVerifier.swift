import Foundation

/// `verify` of a backup in an S3 repository: every object is downloaded again (into an
/// unlinked temp file, 4 at a time) and its size and SHA-256 compared with the manifest; objects
/// the manifest does not list are named too.
struct S3BackupVerifier {
    let entry: BackupCatalog.Entry
    let store: S3BackupStore

    /// Checks every recorded file, then looks for objects the manifest does not know.
    func check() -> BackupVerifier.Result {
        var result = BackupVerifier.Result(name: entry.manifest.name, path: entry.path)
        guard let files = entry.manifest.files else {
            result.problems.append(.init(entry.path, "records no checksums"))
            return result
        }
        let lock = NSLock()
        nonisolated(unsafe) var found: [Int: (Int64, VerifyProblem?)] = [:]
        do {
            try S3RestoreDownload.forEach(files.count) { index in
                let outcome = try reread(files[index])
                lock.withLock { found[index] = outcome }
            }
        } catch {
            result.problems.append(.init(entry.path, "cannot be read: \(error)"))
            return result
        }
        for index in files.indices {
            guard let (bytes, problem) = found[index] else { continue }
            if let problem { result.problems.append(problem) } else { result.files += 1 }
            result.bytes += bytes
        }
        result.problems += extraObjects(known: Set(files.map(\.path)))
        return result
    }

    /// One object: its bytes read and a problem, if any. A missing object is a problem; a
    /// failed request (after retries) throws.
    func reread(_ file: BackupManifest.File) throws -> (Int64, VerifyProblem?) {
        let key = store.dataKey(entry.manifest.name, file.path)
        let object = store.client.describe(key)
        let (fd, tmp) = try Durable.createTemp(
            for: NSTemporaryDirectory() + "walmgr-verify", mode: 0o600)
        unlink(tmp)  // gone from the file system; the fd keeps the bytes until closed
        defer { close(fd) }
        let response = try store.client.send("GET", key, bodyFD: fd)
        if response.status == 404 {
            return (
                0, .init(object, "missing (expected \(file.size) bytes, sha256 \(file.sha256))")
            )
        }
        guard response.status == 200 else { throw store.client.failure(response, "GET", key) }
        let size = response.bodyBytesWritten
        let sha = Digest.hex(try Digest.file(fd, size: size, path: object, md5: false).sha256)
        if size != file.size {
            return (Int64(size), .init(object, "size expected \(file.size) bytes, found \(size)"))
        }
        if sha != file.sha256 {
            return (Int64(size), .init(object, "sha256 expected \(file.sha256), found \(sha)"))
        }
        return (Int64(size), nil)
    }

    /// Objects under the backup's `data/` that the manifest does not list.
    func extraObjects(known: Set<String>) -> [VerifyProblem] {
        let base = store.dataKey(entry.manifest.name, "")
        guard let objects = try? store.client.list(prefix: base) else {
            return [.init(entry.path, "cannot list its objects")]
        }
        return objects.map { String($0.key.dropFirst(base.count)) }
            .filter { !known.contains($0) }
            .map { .init(store.client.describe(base + $0), "not in the manifest") }
    }
}
