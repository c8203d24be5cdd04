import Foundation

/// What cleanup removes: only directories that carry walmgr's layout, never one the
/// ``TargetGuard`` refuses, and all of it decided before anything is removed.
extension Cleanup {
    /// What walmgr makes in walmgr_data (walmgr3's layout plus walmgr's own records).
    static let walmgrDataEntries: Set<String> = [
        "logs.complete", "logs.partial", "data.master", "config.backup", "config.restored",
        initRecordName,
    ]
    /// The control files walmgr writes into completed_wals.
    static let controlFiles: Set<String> = ["PAUSE", "STOP", "BACKUPLOCK"]
    /// Config files backup saves into config_backup.
    static let savedConfigs: Set<String> = ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"]

    /// Decides what to remove; throws (before anything changed) when a configured directory is
    /// refused by the guard or does not look like walmgr's.
    /// - Parameter homes: home directories that are never removed (tests pass a fake one).
    static func makePlan(_ config: SlaveConfig, homes: [String] = TargetGuard.currentHomes)
        throws -> Plan
    {
        var plan = Plan()
        let common = config.common
        let targetGuard = TargetGuard(
            keep: [
                .init(key: "slave_data", path: config.slaveData),
                .init(key: "slave_config_dir", path: config.slaveConfigDir),
            ], homes: homes)
        if let base = common.walmgrData, StandbyFiles.exists(base) {
            try planWalmgrData(base, into: &plan, guardedBy: targetGuard)
        }
        let configured = [
            ("completed_wals", common.completedWals), ("partial_wals", common.partialWals),
            ("full_backup", common.fullBackup), ("config_backup", common.configBackup),
        ]
        for (key, dir) in configured where !dir.isEmpty && StandbyFiles.exists(dir) {
            guard !plan.directories.contains(where: { dir.hasPrefix($0 + "/") }) else { continue }
            try require(dir, key: key, guardedBy: targetGuard)
            plan.directories.append(dir)
        }
        let older = rotatedBackups(common.fullBackup) + oldDataDirs(config.slaveData)
        for dir in older where !plan.directories.contains(where: { dir.hasPrefix($0 + "/") }) {
            try targetGuard.check(dir, purpose: "cleanup")
            plan.directories.append(dir)
        }
        plan.slot = common.useReplicationSlot ? common.replicationSlotName : nil
        return plan
    }

    /// walmgr_data goes whole, unless it is the home dir or holds slave_data: then it stays
    /// and only walmgr's entries in it go (the four directories are planned by the caller).
    static func planWalmgrData(
        _ base: String, into plan: inout Plan, guardedBy targetGuard: TargetGuard
    ) throws {
        plan.lines = initLines(in: base)
        guard let refusal = targetGuard.placeRefusal(base) else {
            try require(base, key: "walmgr_data", guardedBy: targetGuard)
            plan.directories.append(base)
            return
        }
        plan.notes.append(
            "walmgr_data \(base) stays (\(refusal.summary)): cleanup removes only walmgr's own "
                + "entries in it")
        plan.files = ["config.restored", initRecordName].map { "\(base)/\($0)" }
            .filter(StandbyFiles.exists)
    }

    /// The (file, line) pairs `--init-slave` recorded in walmgr_data.
    static func initLines(in base: String) -> [(String, String)] {
        let record = (try? String(contentsOfFile: "\(base)/\(initRecordName)", encoding: .utf8))
        return (record ?? "").split(separator: "\n").compactMap { entry in
            let fields = entry.split(separator: "\t", maxSplits: 2).map(String.init)
            return fields.count == 3 ? (fields[1], fields[2]) : nil
        }
    }

    /// Throws unless `dir` passes the guard and carries walmgr's layout for `key`.
    static func require(_ dir: String, key: String, guardedBy targetGuard: TargetGuard) throws {
        try targetGuard.check(dir, purpose: "cleanup")
        guard let expected = foreignLayout(dir, key: key) else { return }
        throw TargetRefusal(
            path: dir, purpose: "cleanup", reason: .foreign(key: key, expected: expected))
    }

    /// nil when `dir` is empty or holds something walmgr writes there as `key`; otherwise the
    /// entries walmgr would have made (for the message).
    static func foreignLayout(_ dir: String, key: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? ["?"]
        if names.isEmpty { return nil }
        let ours: (String) -> Bool
        let expected: String
        switch key {
        case "walmgr_data":
            ours = { walmgrDataEntries.contains($0) || $0.hasPrefix("data.master.") }
            expected = "logs.complete, logs.partial, data.master, config.backup"
        case "completed_wals", "partial_wals":
            ours = { ArchivedWAL(fileName: $0) != nil || controlFiles.contains($0) }
            expected = "WAL files"
        case "full_backup":
            ours = { $0 == BackupManifest.fileName || $0 == "backup_label" }
            expected = "\(BackupManifest.fileName) or backup_label"
        default:
            ours = { savedConfigs.contains($0) }
            expected = "postgresql.conf, pg_hba.conf, pg_ident.conf"
        }
        return names.contains(where: ours) ? nil : expected
    }

    /// `<full_backup>.N` that hold a backup, and `<full_backup>.inprogress`.
    static func rotatedBackups(_ fullBackup: String) -> [String] {
        siblings(of: fullBackup, suffixes: ["inprogress"]).filter {
            $0.hasSuffix(".inprogress") || foreignLayout($0, key: "full_backup") == nil
        }
    }

    /// `<slave_data>.N` that hold a data dir (PG_VERSION), plus leftovers of an interrupted
    /// restore (`.walmgr-restore`, `.walmgr-old`: names only walmgr uses).
    static func oldDataDirs(_ slaveData: String) -> [String] {
        siblings(of: slaveData, suffixes: ["walmgr-restore", "walmgr-old"]).filter {
            $0.hasSuffix(".walmgr-restore") || $0.hasSuffix(".walmgr-old")
                || StandbyFiles.exists("\($0)/PG_VERSION")
        }
    }

    /// `<path>.N` and `<path>.<suffix>` next to `path`, sorted.
    static func siblings(of path: String, suffixes: Set<String>) -> [String] {
        let path = TargetGuard.trimmingSlashes(path)
        guard !path.isEmpty else { return [] }
        let parent = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        return names.filter { name in
            NumberedName.number(name, base: base) != nil
                || (name.hasPrefix(base + ".")
                    && suffixes.contains(String(name.dropFirst(base.count + 1))))
        }.sorted().map { "\(parent)/\($0)" }
    }
}
