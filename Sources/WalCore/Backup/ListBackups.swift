import Foundation

/// `listbackups [--json]`: the slave reads its catalog and its archive (for each backup's
/// recoverable window); the master asks the slave and prints.
enum ListBackups {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let manifests: [ListedBackup]
        switch context.config {
        case .slave(let slave):
            let full = try slave.need(
                slave.common.fullBackup, key: "full_backup", for: "listbackups")
            if let store = try S3BackupStore(slave.common) {
                manifests = try listed(store.list(), common: slave.common)
                break
            }
            if let blocked = PathCheck.unreadable(SlaveCheck.backupDir(full)) {
                // An empty list would read as "no backups" on the master.
                throw WalmgrFailure("cannot list backups: \(blocked.detail); fix: \(blocked.fix)")
            }
            // An unreadable archive leaves the windows unknown; the list itself still prints.
            // The per-file checksums are verify's business, not a listing's.
            manifests = listed(BackupCatalog(fullBackup: full).list(), common: slave.common)
        case .master(let master):
            if let store = try S3BackupStore(master.common) {
                manifests = try await s3Listing(store, master: master, context)
                break
            }
            let link = try SlaveLink(config: master, invocation: context.invocation)
            let result = try await link.run("listbackups", ["--json"], runner: context.runner)
            manifests = try JSONDecoder().decode([ListedBackup].self, from: Data(result.stdout))
        }
        let text =
            context.has("--json")
            ? String(decoding: try json(manifests), as: UTF8.self) : table(manifests)
        FileHandle.standardOutput.write(Data(text.utf8))
        return 0
    }

    /// The bucket's backups as the master lists them. With the archive in the remote slave's
    /// directory the master cannot read it (the same path here is another directory, or none),
    /// so each window comes from the slave's own listing of that backup (`listbackups --json`
    /// over ssh); a backup the slave does not list, or a slave that does not answer, has none.
    static func s3Listing(
        _ store: S3BackupStore, master: MasterConfig, _ context: CommandContext
    ) async throws -> [ListedBackup] {
        let common = master.common
        guard !master.slaveIsLocal, !S3Repository.isS3(common.completedWals) else {
            return try listed(store.list(), common: common)
        }
        var listing = try listed(store.list(), common: common, readArchive: false)
        do {
            let link = try SlaveLink(config: master, invocation: context.invocation)
            let result = try await link.run("listbackups", ["--json"], runner: context.runner)
            let remote = try JSONDecoder().decode([ListedBackup].self, from: Data(result.stdout))
            let windows = Dictionary(
                remote.map { ($0.manifest.name, $0.window) },
                uniquingKeysWith: { first, _ in first })
            for i in listing.indices {
                listing[i].window = windows[listing[i].manifest.name] ?? nil
            }
        } catch {
            context.log.warning(
                "recoverable windows unknown: the slave did not list them: \(error)")
        }
        return listing
    }

    /// Entries as listed: without per-file data, with the recoverable window when the archive
    /// (a directory or an `s3://` prefix, listed once) is readable and `readArchive` is set.
    static func listed(
        _ entries: [BackupCatalog.Entry], common: CommonConfig, readArchive: Bool = true
    ) -> [ListedBackup] {
        let archive = readArchive ? try? ArchiveIndex.read(common) : nil
        return entries.map { entry in
            var manifest = entry.manifest
            manifest.files = nil
            manifest.directories = nil
            return ListedBackup(
                manifest: manifest,
                window: archive.flatMap { RecoverableWindow.of(entry.manifest, archive: $0) })
        }
    }

    /// The JSON array DESIGN.md specifies, newest first.
    static func json(_ manifests: [ListedBackup]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(manifests)) + [10]
    }

    /// A fixed-width table: name, label, start, duration, start WAL, stop LSN, TLI, size, bytes
    /// copied (the rest was linked from the previous backup), version, and the recoverable window.
    static func table(_ listed: [ListedBackup]) -> String {
        guard !listed.isEmpty else { return "no backups\n" }
        let header = [
            "name", "label", "start time", "duration", "start WAL", "stop LSN", "tli", "size",
            "copied", "pg", "recoverable",
        ]
        let rows = listed.map { item in
            let m = item.manifest
            return [
                m.name, m.label, m.startTime, duration(m), m.startWAL,
                m.stopLSN.isEmpty ? "-" : m.stopLSN, "\(m.timeline)",
                m.sizeBytes > 0 ? humanSize(m.sizeBytes) : "-",
                m.copiedBytes.map(humanSize) ?? "-",
                m.pgVersion > 0 ? ServerVersion(num: m.pgVersion).description : "-",
                window(item.window),
            ]
        }
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { i in
                i == row.count - 1
                    ? row[i] : row[i].padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// `FROM … TO` (`gap at SEGMENT` when a missing segment cuts it), or `-`.
    static func window(_ w: RecoverableWindow?) -> String {
        guard let w else { return "-" }
        guard let to = w.to else { return "none: \(w.gap ?? "?") missing" }
        return "\(w.from ?? "?") … \(to)" + (w.gap.map { " (gap at \($0))" } ?? "")
    }

    /// `1m05s`-style duration between start and stop, or `-` when unknown.
    static func duration(_ m: BackupManifest) -> String {
        let f = ISO8601DateFormatter()
        guard let start = f.date(from: m.startTime), let stop = f.date(from: m.stopTime) else {
            return "-"
        }
        let seconds = max(0, Int(stop.timeIntervalSince(start).rounded()))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" }
        return "\(seconds / 3600)h\(String(format: "%02d", seconds / 60 % 60))m"
    }

    /// `1.5 GiB`-style size.
    static func humanSize(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
