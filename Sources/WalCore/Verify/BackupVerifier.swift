import Foundation

/// Re-reads every file of one backup against the SHA-256 in its `walmgr_manifest.json`, and
/// checks that `backup_manifest` still vouches for that manifest.
struct BackupVerifier {
    /// What one backup's check found.
    struct Result: Codable, Sendable {
        /// The backup dir's name.
        var name: String
        /// Its path.
        var path: String
        /// Files re-read.
        var files = 0
        /// Bytes re-read.
        var bytes: Int64 = 0
        /// What is wrong (empty when intact).
        var problems: [VerifyProblem] = []
    }

    let entry: BackupCatalog.Entry

    /// Checks every recorded file, then looks for files the manifest does not know.
    func check() -> Result {
        var result = Result(name: entry.manifest.name, path: entry.path)
        guard let files = entry.manifest.files else {
            result.problems.append(
                .init(
                    "\(entry.path)/\(BackupManifest.fileName)",
                    "records no checksums (the backup was taken before walmgr recorded them, or "
                        + "is a walmgr3 backup); take a new backup to have one that can be verified"
                ))
            return result
        }
        for file in files {
            let path = "\(entry.path)/\(file.path)"
            do {
                let found = try FileDigest.sha256(file: path)
                result.files += 1
                result.bytes += found.size
                if found.size != file.size {
                    result.problems.append(
                        .init(path, "size expected \(file.size) bytes, found \(found.size)"))
                } else if found.hex != file.sha256 {
                    result.problems.append(
                        .init(path, "sha256 expected \(file.sha256), found \(found.hex)"))
                }
            } catch let error as FileError where error.errno == ENOENT {
                result.problems.append(
                    .init(path, "missing (expected \(file.size) bytes, sha256 \(file.sha256))"))
            } catch {
                result.problems.append(.init(path, "unreadable: \(error)"))
            }
        }
        result.problems += extraFiles(known: Set(files.map(\.path)))
        result.problems += manifestProblems()
        return result
    }

    /// Files on disk that the manifest does not list (added or renamed after the backup).
    func extraFiles(known: Set<String>) -> [VerifyProblem] {
        do {
            return try BackupSeal.regularFiles(in: entry.path)
                .filter { !known.contains($0.0) }
                .map {
                    .init(
                        "\(entry.path)/\($0.0)",
                        "not in the manifest (\($0.1.st_size) bytes): added after the backup")
                }
        } catch {
            return [.init(entry.path, "cannot list: \(error)")]
        }
    }

    /// `backup_manifest` exists, its own checksum holds, and it lists walmgr_manifest.json with
    /// that file's current SHA-256 (so the checksums verify trusts were not altered).
    func manifestProblems() -> [VerifyProblem] {
        let path = "\(entry.path)/\(PGBackupManifest.fileName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            return [.init(path, "missing: pg_verifybackup cannot check this backup")]
        }
        if let problem = PGBackupManifest.checksumProblem(Array(data)) {
            return [.init(path, problem)]
        }
        let own = "\(entry.path)/\(BackupManifest.fileName)"
        guard let listed = PGBackupManifest.checksum(of: BackupManifest.fileName, in: data),
            let current = try? FileDigest.sha256(file: own)
        else { return [.init(path, "does not list \(BackupManifest.fileName)")] }
        return listed == current.hex
            ? [] : [.init(own, "sha256 expected \(listed) (backup_manifest), found \(current.hex)")]
    }
}
