import Foundation

/// Puts the master's config files from config_backup into slave_config_dir, with a logged policy.
///
/// - Into the freshly restored data dir: config_backup's copy replaces the backup's own copy (the
///   DBA edits config_backup, as in walmgr3's howto, to change the standby's port and the like).
/// - Into a separate dir (e.g. /etc/postgresql/16/main): a missing file is written; an existing
///   file is replaced only when a previous walmgr restore wrote it and nobody changed it since
///   (walmgr records what it wrote in `walmgr_data/config.restored`); otherwise it is kept.
enum ConfigRestore {
    /// Restores every regular file of `configBackup` into `directory`.
    /// - Parameters:
    ///   - intoFreshDataDir: true when `directory` is the new data dir being restored.
    ///   - record: the file listing what walmgr wrote (hash and path per line).
    static func run(
        from configBackup: String, into directory: String, intoFreshDataDir: Bool,
        record: String, log: Log
    ) throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: configBackup)) ?? [])
            .filter { !$0.hasPrefix(".") && isRegularFile("\(configBackup)/\($0)") }.sorted()
        guard !names.isEmpty else {
            log.info("config_backup \(configBackup) holds no files; config files left as they are")
            return
        }
        var written = readRecord(record)
        for name in names {
            let source = "\(configBackup)/\(name)"
            let target = "\(directory)/\(name)"
            guard let bytes = FileManager.default.contents(atPath: source).map(Array.init) else {
                throw FileError("read", source)
            }
            let current = FileManager.default.contents(atPath: target).map { hash(Array($0)) }
            if !intoFreshDataDir, let current, written[target] != current {
                log.warning(
                    "kept \(target): it exists and walmgr did not write it (or it was changed "
                        + "since); the master's copy is \(source)")
                continue
            }
            try Durable.replace(bytes, at: target, mode: mode(of: source))
            written[target] = hash(bytes)
            let why =
                intoFreshDataDir
                ? "replaces the backup's copy"
                : current == nil ? "new file" : "written by the last restore"
            log.info("restored \(target) from \(source) (\(why))")
        }
        if !intoFreshDataDir {
            let text = written.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)\n" }.joined()
            try Durable.replace(Array(text.utf8), at: record, mode: 0o600)
        }
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }

    static func mode(of path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o777 : 0o600
    }

    /// FNV-1a 64: enough to notice that a DBA edited a file walmgr wrote.
    static func hash(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    static func readRecord(_ path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var record: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            record[String(line[line.index(after: space)...])] = String(line[..<space])
        }
        return record
    }
}
