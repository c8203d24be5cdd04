import Foundation

/// `verify [SET|--all] [--json]` (slave): re-read a backup's files against their checksums,
/// check the archive's segment headers and that WAL runs on without a gap from each backup's
/// start. Exit 1 when anything is wrong, each problem named.
enum Verify {
    /// The whole report (`--json` prints it).
    struct Report: Codable, Sendable {
        var ok: Bool
        var backups: [BackupVerifier.Result]
        var wal: ArchiveVerifier.Result
        var problems: [String]
    }

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let full = try config.need(config.common.fullBackup, key: "full_backup", for: "verify")
        _ = try config.need(config.common.completedWals, key: "completed_wals", for: "verify")
        let store = try S3BackupStore(config.common)
        let entries = try pick(
            BackupCatalog(fullBackup: full), name: context.arguments.first,
            all: context.has("--all"), listed: try store?.list())
        let report = check(entries, common: config.common, store: store, log: context.log)
        if context.has("--json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(report) + Data([10]))
        } else {
            FileHandle.standardOutput.write(Data(text(report).utf8))
        }
        return report.ok ? 0 : 1
    }

    /// The backups to check: SET, every complete one (`--all`), or the newest complete one.
    /// `listed` replaces the catalog's backups (those of an S3 repository).
    static func pick(
        _ catalog: BackupCatalog, name: String?, all: Bool, listed: [BackupCatalog.Entry]? = nil
    ) throws -> [BackupCatalog.Entry] {
        if all, name != nil {
            throw WalmgrFailure(
                "verify takes SET or --all, not both. Usage: walmgr CONFIG.ini verify "
                    + "[SET|--all] [--json]", exitCode: 64)
        }
        let complete = listed ?? catalog.complete()
        if let name {
            guard let entry = complete.first(where: { $0.manifest.name == name }) else {
                throw StandbyError.unknownBackup(
                    name: name, available: complete.map(\.manifest.name))
            }
            return [entry]
        }
        guard let newest = complete.first else {
            throw StandbyError.noBackup(
                fullBackup: catalog.fullBackup,
                inProgress: listed == nil
                    && FileManager.default.fileExists(atPath: catalog.inProgress))
        }
        return all ? complete : [newest]
    }

    /// Runs every check (pure of output).
    /// With a `store` the backups are objects in S3, downloaded again to be checked.
    static func check(
        _ entries: [BackupCatalog.Entry], common: CommonConfig, store: S3BackupStore? = nil,
        log: Log
    ) -> Report {
        let completedWals = common.completedWals
        let backups = entries.map { entry in
            log.info("verifying \(entry.path)")
            return store.map { S3BackupVerifier(entry: entry, store: $0).check() }
                ?? BackupVerifier(entry: entry).check()
        }
        let manifests = entries.map(\.manifest)
        var wal = ArchiveVerifier.Result(directory: completedWals)
        let verifier = ArchiveVerifier(directory: completedWals, pgVersion: manifests[0].pgVersion)
        if S3Repository.isS3(completedWals) {
            do {
                if let listing = try S3ArchiveListing.read(common) {
                    wal = verifier.check(listing: listing, backups: manifests)
                }
            } catch {
                wal.problems.append(.init(completedWals, "\(error)"))
            }
        } else {
            wal = verifier.check(backups: manifests)
        }
        let problems = (backups.flatMap(\.problems) + wal.problems).map(\.description)
        return Report(ok: problems.isEmpty, backups: backups, wal: wal, problems: problems)
    }

    /// One line per backup and for the archive, then each problem.
    static func text(_ report: Report) -> String {
        var lines = report.backups.map { b in
            "\(b.name): \(b.files) files, \(ListBackups.humanSize(b.bytes)) re-read: "
                + (b.problems.isEmpty ? "OK" : "\(b.problems.count) problem(s)")
        }
        lines.append(
            S3Repository.isS3(report.wal.directory)
                ? "WAL \(report.wal.directory): \(report.wal.segments) segments listed, "
                    + "continuity checked (headers are not downloaded): "
                    + (report.wal.problems.isEmpty
                        ? "OK" : "\(report.wal.problems.count) problem(s)")
                : "WAL \(report.wal.directory): \(report.wal.segments) segment headers read: "
                    + (report.wal.problems.isEmpty
                        ? "OK" : "\(report.wal.problems.count) problem(s)"))
        lines += report.problems.map { "PROBLEM \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
