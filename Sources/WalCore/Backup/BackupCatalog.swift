import Foundation

/// The backups under full_backup's parent: `data.master`, `data.master.0`, … (newest first).
public struct BackupCatalog: Sendable {
    /// `full_backup`, e.g. `/var/lib/walmgr/data.master`.
    public let fullBackup: String

    /// Creates a catalog for a full_backup path.
    public init(fullBackup: String) { self.fullBackup = fullBackup }

    /// The directory holding the backups.
    public var parent: String { (fullBackup as NSString).deletingLastPathComponent }
    /// `data.master`.
    public var baseName: String { (fullBackup as NSString).lastPathComponent }
    /// Where a backup being taken is copied, never over a good one.
    public var inProgress: String { "\(fullBackup).inprogress" }

    /// One backup on disk.
    public struct Entry: Sendable {
        /// Its directory.
        public let path: String
        /// Its manifest (read, or made up from backup_label for walmgr3 backups).
        public let manifest: BackupManifest
        /// True when it can be restored.
        public var isComplete: Bool { manifest.status == "complete" }
    }

    /// The backup dirs in rotation order: `data.master`, then `.0`, `.1`, … as they exist.
    public func rotationPaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        let numbered = names.compactMap { NumberedName.number($0, base: baseName) }.sorted()
        return [fullBackup] + numbered.map { "\(fullBackup).\($0)" }
    }

    /// Every backup with a manifest or a backup_label, newest first.
    public func list() -> [Entry] {
        rotationPaths().compactMap(entry(at:))
    }

    /// Only complete backups, newest first.
    public func complete() -> [Entry] { list().filter(\.isComplete) }

    /// Reads one backup dir; nil when it holds neither a manifest nor a backup_label.
    public func entry(at path: String) -> Entry? {
        let name = (path as NSString).lastPathComponent
        if let data = FileManager.default.contents(atPath: "\(path)/\(BackupManifest.fileName)"),
            var manifest = try? BackupManifest.decode(Array(data))
        {
            manifest.name = name
            return Entry(path: path, manifest: manifest)
        }
        guard let data = FileManager.default.contents(atPath: "\(path)/backup_label") else {
            return nil
        }
        let label = BackupLabel.parse(String(decoding: data, as: UTF8.self))
        let version = (try? String(contentsOfFile: "\(path)/PG_VERSION", encoding: .utf8))
            .flatMap { ServerVersion(pgVersionFile: $0) }
        let manifest = BackupManifest(
            name: name, label: label.label ?? "", status: "complete",
            startTime: label.startTime.map { Self.isoTime(labelTime: $0) ?? $0 } ?? "",
            stopTime: "", startLSN: label.startLSN?.description ?? "",
            stopLSN: "", startWAL: label.startWAL ?? "", stopWAL: "", timeline: label.timeline ?? 1,
            pgVersion: version?.num ?? 0, systemIdentifier: "", sizeBytes: 0, fileCount: 0,
            tablespaces: [], takenFrom: "master", legacy: true)
        return Entry(path: path, manifest: manifest)
    }

    /// Converts backup_label's `START TIME` (`2026-11-21 21:00:00 UTC`) to ISO 8601 UTC.
    public static func isoTime(labelTime: String) -> String? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss zzz"
        return f.date(from: labelTime).map(BackupManifest.isoTime)
    }
}
