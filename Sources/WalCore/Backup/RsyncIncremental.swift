import Foundation

/// Incremental backups over ssh. rsync's `--link-dest` links a file when its size and mtime
/// match the previous backup's copy, and it compares mtimes in whole seconds. A file written
/// again, same size, in the same second as the write before the previous backup copied it looks
/// unchanged but holds other bytes; the new backup's WAL replay starts after that write, so
/// nothing would repair the linked copy. The in-process copy links only files last written
/// more than a second before the previous backup's start (``IncrementalBase``); over ssh the
/// others are left out of the linking rsync and sent by a second one (`-I`). A file written
/// while the first rsync runs needs nothing more: rsync links it only when it was unchanged
/// since before the previous backup's start, so the link holds its content at this backup's
/// start, and WAL replay from that start repairs what came after.
struct RsyncIncremental: Sendable {
    /// The previous backup's start, in seconds since the epoch.
    let startTime: Int

    /// The previous backup `--link-dest` would link from: the complete backup at full_backup
    /// (its name is `fullBackupName`) of the same cluster, from the slave's `listbackups --json`.
    /// Nil (no `--link-dest` at all) when there is none, it is a walmgr3 backup without a
    /// start time, another cluster's, or taken from the standby (its files are not the
    /// master's, see ``IncrementalBase/find(_:enabled:systemIdentifier:takenFrom:)``).
    static func previous(
        listing: [UInt8], fullBackupName: String, systemIdentifier: String
    ) throws -> RsyncIncremental? {
        let manifests = try JSONDecoder().decode([BackupManifest].self, from: Data(listing))
        guard
            let entry = manifests.first(where: { $0.name == fullBackupName }),
            entry.status == "complete", entry.legacy != true,
            entry.systemIdentifier == systemIdentifier, entry.takenFrom == "master",
            let start = ISO8601DateFormatter().date(from: entry.startTime)
        else { return nil }
        return RsyncIncremental(startTime: Int(start.timeIntervalSince1970))
    }

    /// True when rsync must not have linked a file with this mtime (the complement of
    /// ``IncrementalBase/reusable(_:source:)``'s time rule).
    func mustResend(mtime: timespec) -> Bool { mtime.tv_sec >= startTime - 1 }

    /// Regular files under `root` (paths relative to it, `excludes` applied as rsync does)
    /// that ``mustResend(mtime:)``, with their sizes. A file or directory that vanishes
    /// meanwhile is skipped.
    func recentFiles(root: String, excludes: [String]) -> [(path: String, size: Int64)] {
        let rules = excludes.map(LocalTreeCopy.Rule.init)
        var found: [(path: String, size: Int64)] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let dir = relative.isEmpty ? root : "\(root)/\(relative)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for name in names {
                let rel = relative.isEmpty ? name : "\(relative)/\(name)"
                guard !rules.contains(where: { $0.excludes(rel, name: name) }) else { continue }
                var st = stat()
                guard lstat("\(root)/\(rel)", &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: pending.append(rel)
                case S_IFREG where mustResend(mtime: st.st_mtim):
                    found.append((rel, Int64(st.st_size)))
                default: continue
                }
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// `command` (the linking rsync) with `--from0 --exclude-from=-`: it skips the files
    /// ``excludeList(_:)`` names on stdin, which the second rsync sends.
    static func skippingListed(_ command: Command) -> Command {
        var command = command
        let end = command.arguments.lastIndex(of: "--") ?? command.arguments.endIndex
        command.arguments.insert(contentsOf: ["--from0", "--exclude-from=-"], at: end)
        return command
    }

    /// Anchored exclude patterns for `paths`, NUL-separated. rsync reads a backslash as an
    /// escape only in a pattern with a wildcard, so only such names are escaped.
    static func excludeList(_ paths: [String]) -> [UInt8] {
        let wild: Set<Character> = ["*", "?", "["]
        return fileList(
            paths.map { path in
                guard path.contains(where: wild.contains) else { return "/" + path }
                return "/"
                    + path.map { wild.contains($0) || $0 == "\\" ? "\\\($0)" : "\($0)" }
                    .joined()
            })
    }

    /// `rsync -a -I --ignore-missing-args --stats [-z] --from0 --files-from=- [-s -e SSH] --
    /// SOURCE/ DEST/`: sends the files named on stdin (NUL-separated, relative to SOURCE)
    /// whatever their size and mtime; rsync writes each to a temp file and renames it, so a
    /// link to the previous backup is replaced, never written through. A listed file the server
    /// removed meanwhile (a temp table, a dropped one) is skipped: without
    /// `--ignore-missing-args` rsync exits 23 and the backup fails.
    static func resend(source: String, destination: Location, ssh: SSH?, compress: Bool)
        -> Command
    {
        var args = ["-a", "-I", "--ignore-missing-args", "--stats", "--no-human-readable"]
        if compress { args.append("-z") }
        args += ["--from0", "--files-from=-"]
        args += BackupCopy.remoteShell(destination, ssh)
        args += ["--", BackupCopy.slash(source), BackupCopy.slash(BackupCopy.target(destination))]
        return Command("rsync", args)
    }

    /// The NUL-separated list `resend` reads on stdin.
    static func fileList(_ paths: [String]) -> [UInt8] {
        paths.flatMap { Array($0.utf8) + [0] }
    }
}
