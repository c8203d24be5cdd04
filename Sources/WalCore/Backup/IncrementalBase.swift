import Foundation

/// The previous complete backup (`full_backup`, before rotation renames it) that an incremental
/// backup takes unchanged files from, by hard link, instead of copying them again.
///
/// A file is reused only when the previous backup holds a regular file at the same path with the
/// source's size, mtime and mode, its manifest records a SHA-256 for it, and that mtime is more
/// than a second older than the previous backup's start: a write after the previous copy read
/// the file would have moved the mtime past it, so the linked bytes are the source's bytes.
struct IncrementalBase: Sendable {
    /// The previous backup's directory.
    let dir: String
    /// Its manifest's files, by path inside the backup.
    let files: [String: BackupManifest.File]
    /// Its start time (seconds since the epoch); only files last written before it are reused.
    let startTime: Int

    /// The complete backup in `catalog.fullBackup` with per-file checksums, or nil (none yet, an
    /// unfinished or pre-checksum one, one of another cluster than `systemIdentifier`, one
    /// taken from the other side than `takenFrom`, or `backup_incremental = off`).
    ///
    /// A master backup never links from a standby backup, nor the reverse: the two data dirs
    /// hold different files, and a size and mtime that match (whole seconds on some file
    /// systems) say nothing about their bytes.
    static func find(
        _ catalog: BackupCatalog, enabled: Bool = true, systemIdentifier: String? = nil,
        takenFrom: String? = nil
    ) -> IncrementalBase? {
        guard enabled, let entry = catalog.entry(at: catalog.fullBackup), entry.isComplete,
            entry.manifest.legacy != true, let files = entry.manifest.files,
            systemIdentifier == nil || systemIdentifier == entry.manifest.systemIdentifier,
            takenFrom == nil || takenFrom == entry.manifest.takenFrom,
            let start = ISO8601DateFormatter().date(from: entry.manifest.startTime)
        else { return nil }
        return IncrementalBase(
            dir: entry.path,
            files: Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a }),
            startTime: Int(start.timeIntervalSince1970))
    }

    /// The recorded entry for `path` (inside the backup) when the previous copy of it still
    /// matches the source file `source` (lstat'ed), so it can be linked; else nil.
    func reusable(_ path: String, source: stat) -> BackupManifest.File? {
        guard let file = files[path], file.size == Int64(source.st_size),
            source.st_mtim.tv_sec < startTime - 1
        else { return nil }
        var old = stat()
        guard lstat("\(dir)/\(path)", &old) == 0, old.st_mode & S_IFMT == S_IFREG,
            old.st_size == source.st_size, old.st_mtim.tv_sec == source.st_mtim.tv_sec,
            old.st_mtim.tv_nsec == source.st_mtim.tv_nsec,
            old.st_mode & 0o7777 == source.st_mode & 0o7777
        else { return nil }
        return file
    }

    /// Links the previous backup's copy of `path` as `target`; false when the link cannot be
    /// made (another file system, too many links): the caller copies instead.
    func link(_ path: String, as target: String) -> Bool {
        unlink(target)
        return Foundation.link("\(dir)/\(path)", target) == 0
    }

    /// True when `file` (in a new backup) is the very inode of the same path in this backup.
    func shares(_ path: String, with st: stat) -> Bool {
        var old = stat()
        return lstat("\(dir)/\(path)", &old) == 0 && old.st_ino == st.st_ino
            && old.st_dev == st.st_dev
    }
}
