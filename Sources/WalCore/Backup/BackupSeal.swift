import Foundation

/// The last step of a backup on the slave: record every file's SHA-256 in the manifest, write
/// PostgreSQL's `backup_manifest`, then `walmgr_manifest.json` (whose `complete` status makes
/// the backup restorable) last.
///
/// Checksums come from the copy when it ran in-process (LocalTreeCopy hashes what it writes).
/// Files without one (all of them after an rsync over ssh, plus backup_label and
/// tablespace_map) are hashed here, on the slave, after the copy: a second read, but local to
/// the disk that holds the backup, and rsync's own transfer check covers the wire. A file that
/// is the very inode of the same path in the previous backup (hard-linked by an incremental
/// backup, in-process or by rsync's `--link-dest`) has that backup's checksum: not read again.
enum BackupSeal {
    /// Top-level names that are not part of the checked content.
    static func skipped(_ path: String) -> Bool {
        path == BackupManifest.fileName || path == PGBackupManifest.fileName || path == "pg_wal"
            || path.hasPrefix("pg_wal/")
    }

    /// Flushes the tree, completes `manifest.files`, and writes both manifests durably.
    /// `previous` is the backup an incremental one linked files from (nil: none).
    /// `fsyncFile` is fsync(2) (a test seam).
    static func seal(
        _ dir: String, manifest: BackupManifest, previous: IncrementalBase? = nil,
        fsyncFile: (Int32) -> Int32 = { fsync($0) }
    ) throws {
        try SlaveBackupHelpers.finishTree(dir)
        let regular = try regularFiles(in: dir)
        try confirmWritten(regular.map { "\(dir)/\($0.0)" }, fsyncFile: fsyncFile)
        var manifest = manifest
        let known = Dictionary(
            (manifest.files ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var files: [BackupManifest.File] = []
        var lines: [PGBackupManifest.File] = []
        var reused = (files: 0, bytes: Int64(0))
        for (path, st) in regular {
            var file = known[path]
            if let previous, previous.shares(path, with: st),
                let old = previous.files[path], old.size == Int64(st.st_size)
            {
                file = file ?? old
                reused.files += 1
                reused.bytes += old.size
            }
            if file == nil || file?.size != Int64(st.st_size) {
                let sum = try FileDigest.sha256(file: "\(dir)/\(path)")
                file = .init(path: path, size: sum.size, sha256: sum.hex)
            }
            files.append(file!)
            if !PGBackupManifest.ignored(path) {
                lines.append(
                    .init(
                        path: path, size: file!.size, modified: st.st_mtim.tv_sec,
                        sha256: file!.sha256))
            }
        }
        manifest.files = files
        manifest.fileCount = files.count
        manifest.reusedFiles = reused.files
        manifest.reusedBytes = reused.bytes
        manifest.copiedBytes = max(0, manifest.sizeBytes - reused.bytes)
        let walmgrManifest = try manifest.encoded()
        lines.append(
            .init(
                path: BackupManifest.fileName, size: Int64(walmgrManifest.count),
                modified: Int(Date().timeIntervalSince1970),
                sha256: FileDigest.sha256(walmgrManifest)))
        lines.sort { $0.path < $1.path }
        let text = PGBackupManifest.render(
            files: lines, timeline: manifest.timeline, startLSN: manifest.startLSN,
            endLSN: manifest.stopLSN)
        try Durable.replace(text, at: "\(dir)/\(PGBackupManifest.fileName)", mode: 0o600)
        try Durable.replace(walmgrManifest, at: "\(dir)/\(BackupManifest.fileName)", mode: 0o600)
    }

    /// fsyncs each file after the tree's syncfs, which has already written them: a write-back
    /// error of a file is reported to the first fsync of that file (nobody else fsyncs a
    /// backup's files), whereas syncfs reports one only to the first syncfs of the whole file
    /// system, which any other process on it may have been (a restore's flush, `sync -f`).
    /// Clean files cost an open and a no-op fsync each.
    static func confirmWritten(_ paths: [String], fsyncFile: (Int32) -> Int32) throws {
        for path in paths {
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw FileError("open", path) }
            defer { close(fd) }
            guard fsyncFile(fd) == 0 else {
                let code = errno
                var st = stat()
                let shared = fstat(fd, &st) == 0 && st.st_nlink > 1
                throw BackupError.writeLost(path, errno: code, shared: shared)
            }
        }
    }

    /// Every regular file under `dir` (paths relative to it, sorted), except the manifests and
    /// pg_wal; symlinks are neither followed nor listed.
    static func regularFiles(in dir: String) throws -> [(String, stat)] {
        var out: [(String, stat)] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let path = relative.isEmpty ? dir : "\(dir)/\(relative)"
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw FileError("list", path)
            }
            for name in names {
                let rel = relative.isEmpty ? name : "\(relative)/\(name)"
                guard !skipped(rel) else { continue }
                var st = stat()
                guard lstat("\(dir)/\(rel)", &st) == 0 else {
                    throw FileError("stat", "\(dir)/\(rel)")
                }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: pending.append(rel)
                case S_IFREG: out.append((rel, st))
                default: continue
                }
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
