import Foundation

/// Where the last sync round ended: a segment and the byte offset shipped up to.
///
/// Kept in memory by syncdaemon and in `<master_data>/.walshipping.sync` so a one-shot `sync`
/// continues where the previous round stopped. A lost or stale file only costs a resend.
struct SyncPosition: Sendable, Equatable, CustomStringConvertible {
    /// The segment being filled.
    var segment: WALSegment
    /// Bytes of it already on the slave.
    var offset: UInt64

    /// The state file's name in the master's data dir.
    static let fileName = ".walshipping.sync"

    var description: String { "\(segment.name) offset \(offset)" }

    /// The saved position, if the file exists and matches `segmentSize`.
    static func load(dataDir: String, segmentSize: UInt64) -> SyncPosition? {
        guard let text = try? String(contentsOfFile: "\(dataDir)/\(fileName)", encoding: .utf8)
        else { return nil }
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard words.count == 2, let name = WALName(words[0]), name.kind == .segment,
            let segment = WALSegment(name: name.name, size: segmentSize),
            let offset = UInt64(words[1]), offset <= segmentSize
        else { return nil }
        return SyncPosition(segment: segment, offset: offset)
    }

    /// Saves the position (temp, fsync, rename).
    func save(dataDir: String) throws {
        try Durable.replace(
            Array("\(segment.name) \(offset)\n".utf8), at: "\(dataDir)/\(Self.fileName)")
    }
}

/// What one round shipped, for the log line.
struct SyncReport: Sendable {
    /// Record or file mode.
    enum Mode: String, Sendable { case record, file }
    var mode: Mode
    /// The segment and offset the round ended at (record mode), or the last file sent.
    var name: String
    var offset: UInt64
    /// Bytes sent in this round (all pieces).
    var bytes: Int
    /// Pieces sent (a segment switch sends the old tail and the new head).
    var pieces: Int
    var milliseconds: Int64

    /// One log line: file, offset, bytes, ms.
    var line: String {
        let extra = pieces > 1 ? " in \(pieces) pieces" : ""
        return "sync (\(mode.rawValue)): \(name) offset \(offset), sent \(bytes) bytes\(extra) "
            + "in \(milliseconds) ms"
    }
}

/// Reads a byte range of a file in pg_wal.
enum WALFileReader {
    /// Bytes [from, to) of `path`; fewer when the file is shorter.
    static func read(_ path: String, from: UInt64, to: UInt64) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", path) }
        defer { close(fd) }
        let count = Int(to - min(from, to))
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, count - done, off_t(from) + off_t(done))
            }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw FileError("read", path) }
            if n == 0 { break }
            done += n
        }
        return Array(buffer.prefix(done))
    }

    /// The segment size recorded in a segment's long page header.
    static func headerSegmentSize(_ path: String) -> UInt64? {
        guard let bytes = try? read(path, from: 0, to: 40) else { return nil }
        return SegmentCheck.header(bytes)?.segmentSize
    }
}
