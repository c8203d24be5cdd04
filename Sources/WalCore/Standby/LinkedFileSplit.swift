import Foundation

/// `restore --move` renames a backup's files into the data dir. An incremental backup shares
/// files with older backups by hard link; the rename leaves the other backup its link, but the
/// restored file would still be that backup's inode, and PostgreSQL writes data files in place:
/// the running standby would change the older backup. So every moved file with more than one
/// link is replaced by a private copy before the data dir is put in place.
enum LinkedFileSplit {
    /// Replaces each regular file under `dir` (recursively, symlinks not followed) whose link
    /// count is above 1 by a copy with the same bytes, mode, owner and times.
    /// - Returns: how many files were copied.
    @discardableResult
    static func split(under dir: String) throws -> Int {
        var count = 0
        for (path, st) in try BackupSeal.regularFiles(in: dir) where st.st_nlink > 1 {
            try copyInPlace("\(dir)/\(path)", stat: st)
            count += 1
        }
        return count
    }

    /// Copies `path` to a temporary name beside it, then renames the copy over it.
    ///
    /// No fsync of its own: the copy lies in the staged tree, which the swap flushes (syncfs)
    /// before the rename that puts it in place, as it does for every other copied file. A crash
    /// before that leaves only the staging dir, which the next restore removes.
    static func copyInPlace(_ path: String, stat st: stat) throws {
        let temp = "\(path).walmgr-split"
        unlink(temp)
        let input = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw FileError("open", path) }
        defer { close(input) }
        let output = open(
            temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0o7777)
        guard output >= 0 else { throw FileError("create", temp) }
        defer { close(output) }
        do {
            try Durable.copy(from: input, to: output, sourcePath: path, path: temp)
            // As root the copy would belong to root; keep the backup file's owner.
            if fchown(output, st.st_uid, st.st_gid) != 0 && errno != EPERM {
                throw FileError("chown", temp)
            }
            var times = [st.st_atim, st.st_mtim]
            futimens(output, &times)
            guard rename(temp, path) == 0 else { throw FileError("rename \(temp) to", path) }
        } catch {
            unlink(temp)
            throw error
        }
    }
}
