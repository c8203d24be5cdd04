import Foundation

/// `<slave_data>.N`: the data dirs restore keeps aside (`backup_datadir`), numbered so that a
/// higher N is a later restore; `keep_old_datadirs` bounds how many stay.
enum OldDataDirs {
    /// The kept copies (dirs holding PG_VERSION), oldest first.
    static func list(_ dataDir: String) -> [String] {
        numbered(dataDir).map(\.path).filter { StandbyFiles.exists("\($0)/PG_VERSION") }
    }

    /// Where the next copy goes: one above the highest N in use.
    static func nextPath(_ dataDir: String) -> String {
        "\(dataDir).\((numbered(dataDir).last?.number ?? -1) + 1)"
    }

    /// Every `<dataDir>.N` next to it, by N.
    static func numbered(_ dataDir: String) -> [(number: Int, path: String)] {
        let parent = (dataDir as NSString).deletingLastPathComponent
        let base = (dataDir as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        return names.compactMap { name -> (Int, String)? in
            NumberedName.number(name, base: base).map { ($0, "\(parent)/\(name)") }
        }.sorted { $0.0 < $1.0 }
    }

    /// Bytes of the regular files under `paths` (symlinks are not followed).
    static func size(_ paths: [String]) -> Int64 {
        var total: Int64 = 0
        for path in paths {
            let files = FileManager.default.enumerator(atPath: path)
            while let relative = files?.nextObject() as? String {
                var st = stat()
                guard lstat("\(path)/\(relative)", &st) == 0, st.st_mode & S_IFMT == S_IFREG
                else { continue }
                total += Int64(st.st_size)
            }
        }
        return total
    }
}

extension RestoreCopy {
    /// Removes the oldest `<destination>.N` beyond `keep_old_datadirs`. A copy the guard
    /// refuses (a server runs in it) is kept with a warning: the restore itself succeeded.
    func pruneOldDataDirs() {
        let old = OldDataDirs.list(destination)
        for path in old.dropLast(keepOldCount) {
            do {
                try targetGuard.check(path, purpose: "restore")
                try TreeRemoval.remove(path)
                log.info("removed \(path): keep_old_datadirs = \(keepOldCount) keeps the newest")
            } catch {
                log.warning("kept \(path) beyond keep_old_datadirs: \(error)")
            }
        }
        let kept = OldDataDirs.list(destination)
        guard !kept.isEmpty else { return }
        let bytes = OldDataDirs.size(kept)
        log.info(
            "\(kept.count) old data dir(s) kept next to \(destination), "
                + "\(bytes / 1_048_576) MiB in all (keep_old_datadirs = \(keepOldCount))")
    }
}
