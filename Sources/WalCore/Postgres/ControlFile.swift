import Foundation

/// What walmgr reads from a data dir's `global/pg_control` without PostgreSQL's programs.
///
/// The file starts alike in every version walmgr knows: system identifier (offset 0),
/// pg_control_version (8), catalog version, state, time, checkpoint location; 9.6 and 10 then
/// have prevCheckPoint; then comes the checkpoint copy, whose redo location and timeline are
/// what a restart needs. All fields are in this machine's byte order.
enum ControlFile {
    /// The checkpoint copy's redo offset by pg_control_version: 9.6 (960) and 10 (1002), then
    /// 11 (1100), 12 (1201), 13–16 (1300), 17 (1700) and 18 (1800). Its timeline follows it.
    static let redoOffsets: [UInt32: Int] = [
        960: 48, 1002: 48, 1100: 40, 1201: 40, 1300: 40, 1700: 40, 1800: 40,
    ]
    /// Bytes that hold every field read here.
    static let prefixSize = 60

    /// The first `count` bytes of `dataDir/global/pg_control`, or nil when it cannot be read.
    /// PostgreSQL rewrites the file in place, so a read can see half of a write: it is read
    /// until two reads agree (at most 5 times).
    static func prefix(_ dataDir: String, count: Int) -> [UInt8]? {
        let fd = open("\(dataDir)/global/pg_control", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var last: [UInt8]?
        for _ in 0..<5 {
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
            guard n == count else { return nil }
            if bytes == last { return bytes }
            last = bytes
        }
        return nil
    }

    /// The system identifier (any version: it is the first field since 8.x).
    static func systemIdentifier(_ dataDir: String) -> UInt64? {
        prefix(dataDir, count: 8)?.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The last checkpoint's (on a standby: restart point's) redo location and timeline.
    static func restartPoint(_ dataDir: String) -> (redo: LSN, timeline: UInt32)? {
        restartPoint(prefix(dataDir, count: prefixSize))
    }

    /// The same from pg_control's first ``prefixSize`` bytes (pure); nil for a short file or a
    /// version whose layout is not known here.
    static func restartPoint(_ bytes: [UInt8]?) -> (redo: LSN, timeline: UInt32)? {
        guard let bytes, bytes.count >= prefixSize else { return nil }
        return bytes.withUnsafeBytes { raw in
            let version = raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            guard let redo = redoOffsets[version] else { return nil }
            let timeline = raw.loadUnaligned(fromByteOffset: redo + 8, as: UInt32.self)
            guard timeline > 0 else { return nil }
            return (LSN(raw.loadUnaligned(fromByteOffset: redo, as: UInt64.self)), timeline)
        }
    }
}
