/// The fields of a `backup_label` file (pure parser).
public struct BackupLabel: Sendable, Equatable {
    /// START WAL LOCATION's LSN.
    public var startLSN: LSN?
    /// The file named in START WAL LOCATION.
    public var startWAL: String?
    /// CHECKPOINT LOCATION.
    public var checkpointLSN: LSN?
    /// START TIME as written (`2026-11-21 21:00:00 UTC`).
    public var startTime: String?
    /// LABEL.
    public var label: String?
    /// START TIMELINE (or the start WAL's timeline on old servers).
    public var timeline: UInt32?

    /// Parses backup_label text; unknown lines are ignored.
    public static func parse(_ text: String) -> BackupLabel {
        var label = BackupLabel()
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingPrefix(" ")
            switch key {
            case "START WAL LOCATION":
                let parts = value.split(separator: " ")
                label.startLSN = parts.first.flatMap { LSN(String($0)) }
                if let file = parts.last, file.hasSuffix(")") {
                    label.startWAL = String(file.dropLast())
                }
            case "CHECKPOINT LOCATION": label.checkpointLSN = LSN(String(value))
            case "START TIME": label.startTime = String(value)
            case "LABEL": label.label = String(value)
            case "START TIMELINE": label.timeline = UInt32(value)
            default: continue
            }
        }
        if label.timeline == nil, let wal = label.startWAL {
            label.timeline = UInt32(wal.prefix(8), radix: 16)
        }
        return label
    }
}
