/// Point-in-time recovery (`restore --target-*`, `restore-point`) refused or failed.
public enum PITRError: WalmgrError, Equatable {
    /// An option's value is not what it must be.
    case badOption(String, String, String)
    /// More than one target (or both inclusive and exclusive) was given.
    case severalTargets([String])
    /// `--target-timeline`, `--target-action` or inclusive/exclusive without a target.
    case modifierWithoutTarget(String)
    /// `--target-inclusive`/`--target-exclusive` with `--target-immediate`.
    case inclusiveWithImmediate(String)
    /// No complete backup ends before the target: (name, stop time, stop LSN) of each.
    case noBackupBefore(target: String, backups: [BackupStop])
    /// The named backup ends after the target.
    case backupAfterTarget(name: String, stop: String, target: String)
    /// A WAL segment the recovery needs is not in completed_wals.
    case missingSegment(segment: String, dir: String, from: String, to: String, note: String)
    /// The target timeline's history file is missing or unreadable.
    case missingHistory(timeline: UInt32, dir: String)
    /// The backup's timeline is not on the target timeline's history.
    case notAncestor(backupTimeline: UInt32, target: UInt32, switchpoint: String?)
    /// The target lies after the newest archived WAL.
    case beyondArchive(target: String, newest: String, archivedAt: String)

    /// One backup's stop point, for the list in ``noBackupBefore(target:backups:)``.
    public struct BackupStop: Sendable, Equatable {
        /// The backup dir name.
        public let name: String
        /// Its stop time (ISO 8601) or empty when unknown.
        public let stopTime: String
        /// Its stop LSN or empty when unknown.
        public let stopLSN: String
    }

    public var exitCode: Int32 {
        switch self {
        case .badOption, .severalTargets, .modifierWithoutTarget, .inclusiveWithImmediate: 64
        default: 1
        }
    }

    public var description: String {
        switch self {
        case .badOption(let option, let value, let expected):
            return "\(option) \"\(Self.printable(value))\" is not \(expected); nothing was changed"
        case .severalTargets(let options):
            return "\(options.joined(separator: " and ")) contradict each other: give one of "
                + "--target-time, --target-lsn, --target-xid, --target-name, --target-immediate "
                + "(and at most one of --target-inclusive/--target-exclusive); nothing was changed"
        case .modifierWithoutTarget(let option):
            return "\(option) needs a target: add --target-time, --target-lsn, --target-xid, "
                + "--target-name or --target-immediate; nothing was changed"
        case .inclusiveWithImmediate(let option):
            return "\(option) has no meaning with --target-immediate (it stops where the backup "
                + "becomes consistent); drop it. Nothing was changed"
        case .noBackupBefore(let target, let backups):
            let list =
                backups.isEmpty
                ? " (none)"
                : backups.map {
                    "\n  \($0.name): stopped \($0.stopTime.isEmpty ? "at an unknown time" : $0.stopTime)"
                        + ($0.stopLSN.isEmpty ? "" : " at \($0.stopLSN)")
                }.joined()
            return "no complete backup ends before the target \(target), so no recovery can reach "
                + "it; nothing was changed. Backups:\(list)\nChoose a later target, or a backup "
                + "taken before it (keep_backups in the master ini keeps older backups)"
        case .backupAfterTarget(let name, let stop, let target):
            return "backup \(name) ends at \(stop), after the target \(target): PostgreSQL cannot "
                + "stop before the backup is consistent. Name an older backup (listbackups) or "
                + "omit SET to let walmgr choose; nothing was changed"
        case .missingSegment(let segment, let dir, let from, let to, let note):
            return "WAL segment \(segment) is missing from \(dir): recovery needs every segment "
                + "from \(from) to \(to)\(note); nothing was changed. Copy it there from the "
                + "master's pg_wal if it is still there, or choose a target before the gap"
        case .missingHistory(let timeline, let dir):
            let name = WALSegment.hex8(UInt64(timeline)) + ".history"
            return "\(name) is missing from \(dir): without it walmgr cannot tell which "
                + "segments lead to timeline \(timeline); copy it there from the pg_wal of the "
                + "server that was promoted to timeline \(timeline). Nothing was changed"
        case .notAncestor(let backupTimeline, let target, let switchpoint):
            let how =
                switchpoint.map {
                    " (it left timeline \(backupTimeline) at \($0), before the backup)"
                } ?? ""
            return "timeline \(target) does not descend from the backup's timeline "
                + "\(backupTimeline)\(how): choose --target-timeline current or a backup on "
                + "timeline \(target)'s history. Nothing was changed"
        case .beyondArchive(let target, let newest, let archivedAt):
            return "the target \(target) lies after the newest archived WAL (\(newest), archived "
                + "\(archivedAt)); recovery would end before reaching it. Run "
                + "`SELECT pg_switch_wal()` on the master and wait until it is archived, or choose "
                + "an earlier target; nothing was changed"
        }
    }

    /// The value with control and non-ASCII characters shown as `?`, at most 80 characters.
    static func printable(_ text: String) -> String {
        String(
            text.unicodeScalars.map {
                $0.isASCII && $0.value >= 32 && $0.value < 127 ? Character($0) : "?"
            }.prefix(80))
    }
}
