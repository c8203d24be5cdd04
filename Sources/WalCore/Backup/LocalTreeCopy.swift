import Foundation

/// Copies a directory tree on this machine in-process, with rsync's exclude rules as the
/// backup uses them. It is rsync's replacement when the backup dir is local: rsync pushes every
/// byte through a pipe between two processes (about 230 MB/s here), while sendfile(2) copies
/// in the kernel. Durability comes later from the backup's syncfs of the whole in-progress dir.
///
/// The walk creates directories and symlinks and lists the regular files; several threads then
/// copy those, largest first (TreeCopyWorkers). With `checksums` on (the backup's case) each
/// copies with copy_file_range(2) and its own CopyHasher reads the copies back from the page
/// cache to hash them, so the SHA-256 per file that `verify` and `backup_manifest` need is of
/// the bytes in the backup and the copy never waits for a file's hash; without, it copies with
/// sendfile(2).
///
/// With a `base` (an incremental backup) a file unchanged since the previous backup is
/// hard-linked from it and keeps its recorded checksum: neither read nor written.
struct LocalTreeCopy {
    /// One rsync-style exclude: `/x` (anchored at the top), `/x/*`, or a basename glob.
    struct Rule {
        let pattern: String
        let anchored: Bool

        init(_ text: String) {
            anchored = text.hasPrefix("/")
            pattern = anchored ? String(text.dropFirst()) : text
        }

        /// True when `relative` (a path under the top, no leading `/`) is excluded.
        func excludes(_ relative: String, name: String) -> Bool {
            anchored
                ? fnmatch(pattern, relative, FNM_PATHNAME) == 0
                : fnmatch(pattern, name, 0) == 0
        }
    }

    let rules: [Rule]
    /// Prepended to each recorded path (`walmgr_tblspc/<oid>/` for a tablespace).
    let prefix: String
    /// What was copied or linked so far; each copied file with its SHA-256 in `entries` when
    /// copying with checksums.
    private(set) var totals = TreeCopyWorkers.Totals()
    var bytes: Int64 { totals.bytes }
    var files: Int { totals.files }
    var entries: [BackupManifest.File] { totals.entries }
    /// Files and bytes linked from `base` rather than copied.
    var reusedFiles: Int { totals.reusedFiles }
    var reusedBytes: Int64 { totals.reusedBytes }
    /// Copy with checksums (see CopyHasher).
    let checksums: Bool
    /// The previous backup to link unchanged files from (checksums only).
    let base: IncrementalBase?
    /// How each copy step copies (``KernelCopy/copyRange``); a seam for tests.
    var copyRange: KernelCopy.CopyRange = KernelCopy.copyFileRange

    /// Creates a copier with rsync-syntax excludes.
    init(
        excludes: [String], prefix: String = "", checksums: Bool = false,
        base: IncrementalBase? = nil
    ) {
        rules = excludes.map(Rule.init)
        self.prefix = prefix
        self.checksums = checksums
        self.base = checksums ? base : nil
    }

    /// One tree of a backup (`what` names it in errors), with the progress line when `progress`;
    /// a failure is the backup's ``BackupError/copyFailed(what:command:status:stderr:)``.
    static func backup(
        _ what: String, from source: String, to destination: String, excludes: [String],
        prefix: String = "", progress: Bool, base: IncrementalBase? = nil
    ) throws -> (bytes: Int64, files: Int, entries: [BackupManifest.File]) {
        let watcher =
            progress ? BackupProgress.start(source: source, destination: .local(destination)) : nil
        defer { watcher?.cancel() }
        var copier = LocalTreeCopy(
            excludes: excludes, prefix: prefix, checksums: true, base: base)
        do {
            try copier.copy(source, to: destination)
        } catch {
            throw BackupError.copyFailed(
                what: what, command: "in-process copy to \(destination)", status: "failed",
                stderr: "\(error)")
        }
        return (copier.bytes, copier.files, copier.entries)
    }

    /// Copies each of `files` (symlinks followed, as `rsync -L`) durably into `dir` under its
    /// base name, with its mode and modification time, as `rsync -a -L FILE… DIR/` would.
    static func copyFiles(_ files: [String], into dir: String) throws {
        for file in files {
            var st = stat()
            guard stat(file, &st) == 0 else { throw FileError("read", file) }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw FileError("read", file)
            }
            let target = "\(dir)/\((file as NSString).lastPathComponent)"
            try Durable.replace(Array(data), at: target, mode: st.st_mode & 0o7777)
            var times = [st.st_atim, st.st_mtim]
            utimensat(AT_FDCWD, target, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Copies `source` into `destination` (created if missing); files that vanish while the
    /// server runs are skipped, as rsync's exit 24 allows. The walk creates the directories
    /// and symlinks and lists the regular files; ``TreeCopyWorkers`` then copies those on
    /// several threads. With checksums, ``entries`` has every file, sorted, once this returns.
    /// - Throws: CancellationError when the task is cancelled (the master went away, see
    ///   MasterBackup.watchingMaster), else the first file's error.
    mutating func copy(_ source: String, to destination: String) throws {
        try Task.checkCancellation()
        try makeDirectory(destination, like: source)
        var found: [TreeCopyWorkers.File] = []
        try walk(source, into: destination, relative: "", files: &found)
        let copied = try TreeCopyWorkers(
            files: found, checksums: checksums, base: base, copyRange: copyRange
        ).run()
        totals.add(copied)
        totals.entries.sort { $0.path < $1.path }
    }

    /// Creates `dir`'s subdirectories and symlinks under `dest` and adds its regular files to
    /// `files`, skipping excluded and vanished entries.
    private func walk(
        _ dir: String, into dest: String, relative: String, files: inout [TreeCopyWorkers.File]
    ) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            if errno == ENOENT { return }
            throw FileError("list", dir)
        }
        for name in names.sorted() {
            let rel = relative.isEmpty ? name : "\(relative)/\(name)"
            guard !rules.contains(where: { $0.excludes(rel, name: name) }) else { continue }
            let from = "\(dir)/\(name)"
            let to = "\(dest)/\(name)"
            var st = stat()
            guard lstat(from, &st) == 0 else {
                if errno == ENOENT { continue }
                throw FileError("stat", from)
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try makeDirectory(to, like: from)
                try walk(from, into: to, relative: rel, files: &files)
            case S_IFREG:
                files.append(.init(from: from, to: to, entry: prefix + rel, stat: st))
            case S_IFLNK:
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: from)
                unlink(to)
                guard symlink(target, to) == 0 else { throw FileError("create link", to) }
            default:
                continue
            }
        }
    }

    private func makeDirectory(_ path: String, like source: String) throws {
        var st = stat()
        let mode = stat(source, &st) == 0 ? st.st_mode & 0o7777 : 0o700
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw FileError("create", path) }
    }
}
