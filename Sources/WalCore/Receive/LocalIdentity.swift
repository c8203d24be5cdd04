import Foundation

/// The system identifier of the cluster this slave's backups and WAL came from: the newest
/// backup's manifest (or its pg_control), else the newest segment in completed_wals.
enum LocalIdentity {
    /// The identifier and where it was read; nil when the slave holds neither backups nor WAL.
    static func find(_ common: CommonConfig) -> (id: String, source: String)? {
        let backups =
            common.fullBackup.isEmpty ? [] : BackupCatalog(fullBackup: common.fullBackup).complete()
        for entry in backups {
            if !entry.manifest.systemIdentifier.isEmpty {
                return (entry.manifest.systemIdentifier, "the backup \(entry.path)")
            }
            if let id = read(path: "\(entry.path)/global/pg_control", offset: 0, method: .none) {
                return (id, "the backup \(entry.path)")
            }
        }
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: common.completedWals)) ?? []
        let newest = names.compactMap { ArchivedWAL(fileName: $0) }
            .filter { $0.name.kind == .segment }.max { $0.name.name < $1.name.name }
        guard let newest else { return nil }
        let path = "\(common.completedWals)/\(newest.fileName)"
        return read(path: path, offset: 24, method: newest.method).map { ($0, path) }
    }

    /// The little-endian UInt64 at `offset` of the file's content, as decimal text.
    static func read(path: String, offset: Int, method: CompressMethod) -> String? {
        guard let fd = try? Durable.openRegular(path) else { return nil }
        defer { close(fd) }
        guard let reader = try? DecodedReader(fd: fd, method: method, path: path),
            let bytes = try? Array(reader.next(offset + 8)), bytes.count == offset + 8
        else { return nil }
        let value = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
        return value == 0 ? nil : String(value)
    }
}
