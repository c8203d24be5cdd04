import Foundation

/// What the backup helpers (`xlock`, `xrelease`, `xwalcheck`, `xpurgewals`) do when
/// completed_wals is an `s3://` bucket and the backups stay in a directory.
enum S3Backup {
    /// The directory that holds BACKUPLOCK: completed_wals, or for an S3 archive the control
    /// directory beside PAUSE and STOP (a bucket holds WAL only).
    static func lockDirectory(_ common: CommonConfig, completedWals: String) -> String {
        S3Repository.isS3(completedWals) ? StandbyFiles(common).controlDir : completedWals
    }

    /// `xpurgewals` and the purge after a backup, for every mix: the oldest kept backup from
    /// the bucket or the catalog directory, WAL removed from the bucket (DeleteObjects, after
    /// one listing) or the directory, by ``WALPurge``'s one rule.
    /// `floor`: the start WAL of the master's oldest kept backup (`xpurgewals START_WAL`);
    /// nothing from it on is removed, whatever this host's full_backup holds. `standby`: what
    /// standbys still need (``StandbyFloor``).
    @discardableResult
    static func purge(
        _ common: CommonConfig, floor: String? = nil, standby: [StandbyFloor] = [], log: Log
    ) throws -> [String] {
        let oldest: BackupCatalog.Entry?
        if let store = try S3BackupStore(common) {
            oldest = try store.list().last
        } else {
            let full = try common.need(common.fullBackup, key: "full_backup", for: "xpurgewals")
            if floor != nil, let blocked = PathCheck.unreadable(SlaveCheck.backupDir(full)) {
                // Backups it cannot see may need older WAL than the master's oldest.
                log.warning("archived WAL is kept: \(blocked.detail); fix: \(blocked.fix)")
                return []
            }
            oldest = BackupCatalog(fullBackup: full).complete().last
        }
        let wals = try common.need(common.completedWals, key: "completed_wals", for: "xpurgewals")
        guard let repository = try S3Repository(wals) else {
            return try WALPurge.purge(
                completedWals: wals, oldest: oldest, floor: floor, standby: standby, log: log)
        }
        let client = try S3Client(settings: common.s3, repository: repository)
        let base = repository.key("")
        return try WALPurge.purge(
            oldest: oldest, floor: floor, standby: standby, archive: wals, log: log,
            list: {
                try client.list(prefix: base).map { String($0.key.dropFirst(base.count)) }
                    .filter { !$0.isEmpty && !$0.contains("/") }
            },
            remove: { try client.delete($0.map(repository.key)) })
    }

    /// The segments from `first` to `last` with no object in the bucket (any suffix, either
    /// timeline), by HEAD requests; nil when completed_wals is not S3.
    static func missingSegments(
        from first: WALSegment, to last: WALSegment, common: CommonConfig
    ) throws -> [String]? {
        guard let repository = try S3Repository(common.completedWals) else { return nil }
        let client = try S3Client(settings: common.s3, repository: repository)
        let timelines = Set([first.timeline, last.timeline])
        let methods =
            [common.compressMethod]
            + CompressMethod.allCases.filter {
                $0 != common.compressMethod
            }
        return try (first.number...max(first.number, last.number)).compactMap { number in
            for timeline in timelines {
                let wal = WALSegment(timeline: timeline, number: number, size: first.size).name
                for method in methods {
                    let key = repository.key(wal + method.suffix)
                    let head = try client.send("HEAD", key)
                    if head.status == 200 { return nil }
                    guard head.status == 404 else { throw client.failure(head, "HEAD", key) }
                }
            }
            return WALSegment(timeline: first.timeline, number: number, size: first.size).name
        }
    }
}
