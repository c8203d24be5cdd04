import Foundation

/// Rotation on the slave: the complete in-progress backup becomes `data.master`, older ones shift
/// to `.0`, `.1`, …, and backups beyond `keep_backups` are removed only after that.
public struct BackupRotation: Sendable {
    /// The backups.
    public let catalog: BackupCatalog
    /// How many older backups to keep (`keep_backups`).
    public let keep: Int
    /// The slave's `archive_command`: run with `BACKUPDIR` on a backup before it is deleted.
    public let hook: [String]?

    /// Creates a rotation.
    public init(catalog: BackupCatalog, keep: Int, hook: [String]?) {
        self.catalog = catalog
        self.keep = max(0, keep)
        self.hook = hook
    }

    /// Puts a complete in-progress backup in place, then drops the old ones beyond `keep`.
    /// - Returns: false when there was no complete in-progress backup (nothing changed).
    @discardableResult
    public func rotate(runner: any ProcessRunning, log: Log) async throws -> Bool {
        guard let entry = catalog.entry(at: catalog.inProgress), entry.isComplete else {
            log.info("no complete backup in \(catalog.inProgress); nothing to rotate")
            return false
        }
        try shift(log: log)
        try move(catalog.inProgress, to: catalog.fullBackup)
        try Durable.fsyncDirectory(catalog.parent)
        log.info("new backup in \(catalog.fullBackup)")
        try await dropOld(runner: runner, log: log)
        return true
    }

    /// Renames `data.master.N` → `.N+1` (highest first), then `data.master` → `.0`.
    func shift(log: Log) throws {
        let fm = FileManager.default
        for path in catalog.rotationPaths().dropFirst().reversed() {
            guard let n = Int(path.dropFirst(catalog.fullBackup.count + 1)) else { continue }
            try move(path, to: "\(catalog.fullBackup).\(n + 1)")
        }
        if fm.fileExists(atPath: catalog.fullBackup) {
            try move(catalog.fullBackup, to: "\(catalog.fullBackup).0")
        }
    }

    /// Removes `data.master.N` for N ≥ keep, after the hook ran on it.
    func dropOld(runner: any ProcessRunning, log: Log) async throws {
        for path in catalog.rotationPaths().dropFirst() {
            guard let n = Int(path.dropFirst(catalog.fullBackup.count + 1)), n >= keep else {
                continue
            }
            if let hook, !hook.isEmpty {
                let command = Command(argv: hook).with(environment: ["BACKUPDIR": path])
                let result = try await runner.run(command)
                guard result.succeeded else {
                    log.error(
                        "archive_command \(command) failed on \(path) (\(result.statusText)): "
                            + "\(result.stderrTail); the backup is kept. Fix the command and run "
                            + "`walmgr SLAVE_INI xrotate` again")
                    continue
                }
            }
            try remove(path)
            log.info("removed old backup \(path) (keep_backups = \(keep))")
        }
    }

    /// Renames, refusing to replace an existing directory.
    func move(_ from: String, to: String) throws {
        guard !FileManager.default.fileExists(atPath: to) else {
            throw FileError(
                "rename \(from) to", to, errno: EEXIST,
                hint: "a backup directory is already there; move it aside by hand")
        }
        guard rename(from, to) == 0 else { throw FileError("rename \(from) to", to) }
    }

    /// Renames to a hidden name first, so a crash mid-delete never leaves a half backup listed.
    func remove(_ path: String) throws {
        let name = (path as NSString).lastPathComponent
        let doomed = "\(catalog.parent)/.\(name).deleting"
        try? TreeRemoval.remove(doomed)
        guard rename(path, doomed) == 0 else { throw FileError("rename \(path) to", doomed) }
        try Durable.fsyncDirectory(catalog.parent)
        try TreeRemoval.remove(doomed)
    }

    /// Removes leftovers of an interrupted delete or backup (hidden `.deleting` dirs).
    public func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: catalog.parent)) ?? []
        for name in names
        where name.hasPrefix(".\(catalog.baseName)") && name.hasSuffix(".deleting") {
            try? TreeRemoval.remove("\(catalog.parent)/\(name)")
        }
    }
}

extension Command {
    /// This command with more environment variables.
    func with(environment extra: [String: String]) -> Command {
        var copy = self
        copy.environment.merge(extra) { _, new in new }
        return copy
    }
}
