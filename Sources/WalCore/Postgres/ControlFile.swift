import Foundation

/// What walmgr reads from a data dir's `global/pg_control` without PostgreSQL's programs.
///
/// PostgreSQL 12–18 lay the file out alike up to the last checkpoint's redo location and
/// timeline: system identifier (offset 0), pg_control_version (8), catalog version, state,
/// time, checkpoint location, then the checkpoint copy's redo (40) and timeline (48), all in
/// this machine's byte order.
enum ControlFile {
    /// pg_control_version of PostgreSQL 12 (1201), 13–16 (1300), 17 (1700) and 18 (1800).
    static let knownVersions: Set<UInt32> = [1201, 1300, 1700, 1800]

    /// The first `count` bytes of `dataDir/global/pg_control`, or nil when it cannot be read.
    static func prefix(_ dataDir: String, count: Int) -> [UInt8]? {
        let fd = open("\(dataDir)/global/pg_control", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
        return n == count ? bytes : nil
    }

    /// The system identifier (any version: it is the first field since 8.x).
    static func systemIdentifier(_ dataDir: String) -> UInt64? {
        prefix(dataDir, count: 8)?.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The last checkpoint's (on a standby: restart point's) redo location and timeline.
    static func restartPoint(_ dataDir: String) -> (redo: LSN, timeline: UInt32)? {
        restartPoint(prefix(dataDir, count: 52))
    }

    /// The same from pg_control's first 52 bytes (pure); nil for a short file or a version
    /// this layout is not known for.
    static func restartPoint(_ bytes: [UInt8]?) -> (redo: LSN, timeline: UInt32)? {
        guard let bytes, bytes.count >= 52 else { return nil }
        return bytes.withUnsafeBytes { raw in
            let version = raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            let timeline = raw.loadUnaligned(fromByteOffset: 48, as: UInt32.self)
            guard knownVersions.contains(version), timeline > 0 else { return nil }
            return (LSN(raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self)), timeline)
        }
    }
}
