import Dispatch
import Foundation

/// `restore` from an S3 repository: the standby downloads the backup itself (no master in the
/// path) into `<DST>.walmgr-s3`, checking each file's size and SHA-256 against the manifest;
/// the usual restore then moves that directory's files into place.
enum S3RestoreDownload {
    /// Parallel downloads.
    static let parallel = 4

    /// Downloads backup `entry` into `dir` (replacing what an interrupted restore left there)
    /// and returns the entry of that local copy.
    static func fetch(
        _ entry: BackupCatalog.Entry, store: S3BackupStore, into dir: String,
        guardedBy targetGuard: TargetGuard, log: Log
    ) throws -> BackupCatalog.Entry {
        let manifest = entry.manifest
        guard let files = manifest.files else {
            throw WalmgrFailure(
                "backup \(entry.path) cannot be restored: its manifest lists no files")
        }
        try removeStale(dir, guardedBy: targetGuard)
        // A first restore on a fresh standby host: DST's parent may not exist yet.
        try Directories.make((dir as NSString).deletingLastPathComponent)
        guard mkdir(dir, 0o700) == 0 else { throw FileError("create", dir) }
        for sub in (manifest.directories ?? []).sorted() {
            try Directories.make("\(dir)/\(sub)")
        }
        let started = ContinuousClock.now
        do {
            try download(files, name: manifest.name, store: store, into: dir)
        } catch {
            try? TreeRemoval.remove(dir)  // nothing half-downloaded stays
            throw error
        }
        try Durable.replace(
            try manifest.encoded(), at: "\(dir)/\(BackupManifest.fileName)", mode: 0o600)
        let bytes = files.reduce(Int64(0)) { $0 + $1.size }
        log.info(
            "downloaded \(entry.path): \(files.count) files, \(ListBackups.humanSize(bytes)), "
                + "each checked against its SHA-256, in \(Restore.seconds(since: started)) s")
        return BackupCatalog.Entry(path: dir, manifest: manifest)
    }

    /// Removes what an interrupted restore left in `dir`. A symlink there is refused (it may
    /// stand for a real directory), and so is a place the guard keeps or a live data dir.
    static func removeStale(_ dir: String, guardedBy targetGuard: TargetGuard) throws {
        var info = stat()
        guard lstat(dir, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw WalmgrFailure(
                "\(dir) is \(NotARegularFile.kind(info.st_mode)), not a directory: restore "
                    + "downloads the S3 backup into a directory of that name and neither follows "
                    + "nor removes what is there. Move it away (or rm it), then run restore again")
        }
        try targetGuard.check(dir, purpose: "restore download into")
        try TreeRemoval.remove(dir)
    }

    /// GETs every file, `parallel` at a time; the first failure stops the rest.
    static func download(
        _ files: [BackupManifest.File], name: String, store: S3BackupStore, into dir: String
    ) throws {
        try forEach(files.count) { index in
            try fetchFile(
                files[index], key: store.dataKey(name, files[index].path), client: store.client,
                into: dir)
        }
    }

    /// Runs `body` for 0..<count on `parallel` threads; after the first failure no new index
    /// starts, and that failure is thrown.
    static func forEach(_ count: Int, _ body: @Sendable (Int) throws -> Void) throws {
        let lock = NSLock()
        nonisolated(unsafe) var next = 0
        nonisolated(unsafe) var failure: (any Error)?
        DispatchQueue.concurrentPerform(iterations: parallel) { _ in
            while true {
                let index: Int? = lock.withLock {
                    guard failure == nil, next < count else { return nil }
                    next += 1
                    return next - 1
                }
                guard let index else { return }
                do { try body(index) } catch {
                    lock.withLock { if failure == nil { failure = error } }
                }
            }
        }
        if let failure { throw failure }
    }

    /// One file: GET into `dir/path` (created new, never through a symlink), then its size and
    /// SHA-256 must be the manifest's.
    static func fetchFile(
        _ file: BackupManifest.File, key: String, client: S3Client, into dir: String
    ) throws {
        let path = "\(dir)/\(file.path)"
        try Directories.make((path as NSString).deletingLastPathComponent)
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError("create", path) }
        defer { close(fd) }
        let response = try client.send("GET", key, bodyFD: fd)
        guard response.status == 200 else { throw client.failure(response, "GET", key) }
        let size = response.bodyBytesWritten
        let sha = Digest.hex(try Digest.file(fd, size: size, path: path, md5: false).sha256)
        guard size == file.size, sha == file.sha256 else {
            throw S3Error.corruptDownload(
                object: client.describe(key),
                reason: "\(size) bytes with sha256 \(sha), the manifest says \(file.size) bytes "
                    + "with sha256 \(file.sha256)")
        }
    }
}
