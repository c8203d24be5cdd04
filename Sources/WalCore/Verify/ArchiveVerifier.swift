import Foundation

/// Checks completed_wals: every archived segment's first page header (compressed ones too),
/// gaps inside each timeline, and the WAL each backup needs from its start to the newest one.
struct ArchiveVerifier {
    /// What the archive check found.
    struct Result: Codable, Sendable {
        /// The archive directory.
        var directory: String
        /// Segments whose header was read.
        var segments = 0
        /// What is wrong (empty when intact).
        var problems: [VerifyProblem] = []
    }

    let directory: String
    /// server_version_num of the newest backup (0: unknown, magic not checked).
    let pgVersion: Int

    /// `XLOG_PAGE_MAGIC` by major version: a segment from another version cannot be replayed.
    static let pageMagic: [Int: UInt16] = [
        12: 0xD101, 13: 0xD106, 14: 0xD10D, 15: 0xD110, 16: 0xD113, 17: 0xD116, 18: 0xD118,
    ]

    /// Headers of every segment, then gaps, then each backup's WAL run.
    func check(backups: [BackupManifest]) -> Result {
        var result = Result(directory: directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            result.problems.append(.init(directory, "\(FileError("list", directory))"))
            return result
        }
        var segmentSize: UInt64?
        for name in names {
            guard let stored = ArchivedWAL(fileName: name), stored.name.kind == .segment else {
                continue
            }
            result.segments += 1
            let (header, problem) = headerCheck(stored, file: name)
            if let problem { result.problems.append(.init("\(directory)/\(name)", problem)) }
            if segmentSize == nil, problem == nil { segmentSize = header?.segmentSize }
        }
        let size = segmentSize ?? WALContinuity.segmentSize(in: directory, names: names)
        continuity(names: names, segmentSize: size, backups: backups, into: &result)
        return result
    }

    /// An `s3://` archive from one listing: the same gap and per-backup run checks on the
    /// stored names; the segments' headers are not downloaded.
    func check(listing: S3ArchiveListing, backups: [BackupManifest]) -> Result {
        var result = Result(directory: directory)
        let names = listing.names
        result.segments = names.filter { WALPurge.walName(stored: $0)?.kind == .segment }.count
        continuity(
            names: names, segmentSize: listing.segmentSize, backups: backups, into: &result)
        return result
    }

    /// Holes inside each timeline, then what stops each backup's replay (each file once).
    func continuity(
        names: [String], segmentSize size: UInt64, backups: [BackupManifest],
        into result: inout Result
    ) {
        var reported = Set<String>()
        for gap in Self.gaps(names: names, segmentSize: size) {
            reported.insert(gap.file)
            result.problems.append(.init("\(directory)/\(gap.file)", gap.problem))
        }
        for backup in backups {
            for problem in runProblems(backup, names: names, segmentSize: size)
            where reported.insert(problem.file).inserted {
                result.problems.append(.init("\(directory)/\(problem.file)", problem.problem))
            }
        }
    }

    /// Reads the first 40 content bytes of one stored segment and checks its long page header.
    func headerCheck(_ stored: ArchivedWAL, file: String) -> (SegmentCheck.Header?, String?) {
        let path = "\(directory)/\(file)"
        do {
            let fd = try Durable.openRegular(path)
            defer { close(fd) }
            let reader = try DecodedReader(fd: fd, method: stored.method, path: path)
            let bytes = Array(try reader.next(40))
            guard let header = SegmentCheck.header(bytes) else {
                return (nil, "it does not start with a WAL segment header")
            }
            if let problem = headerProblem(header, magic: bytes, name: stored.name) {
                return (header, problem)
            }
            var st = stat()
            if stored.method == .none, fstat(fd, &st) == 0, UInt64(st.st_size) != header.segmentSize
            {
                return (
                    header,
                    "size expected \(header.segmentSize) bytes (the wal_segment_size in its "
                        + "header), found \(st.st_size)"
                )
            }
            return (header, nil)
        } catch {
            return (nil, "unreadable: \(error)")
        }
    }

    /// Magic, segment size, page address and timeline of a parsed header against the name.
    func headerProblem(_ header: SegmentCheck.Header, magic bytes: [UInt8], name: WALName)
        -> String?
    {
        let magic = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        let major = ServerVersion(num: pgVersion).major
        if let expected = Self.pageMagic[major], magic != expected {
            return "page magic expected \(hex(expected)) (PostgreSQL \(major)), found \(hex(magic))"
        }
        let size = header.segmentSize
        guard size >= 1 << 20, size <= 1 << 30, size & (size - 1) == 0,
            let start = WALSegment(name: name.name, size: size)?.start
        else { return "its header records an impossible segment size \(size)" }
        if header.pageAddress != start.value {
            return "page address expected \(start), "
                + "found \(LSN(header.pageAddress))"
        }
        // The first segment of a new timeline starts with the parent's pages, so ≤, not ==.
        if header.timeline == 0 || header.timeline > name.timeline {
            return "timeline expected \(name.timeline) or a parent of it, found \(header.timeline)"
        }
        return nil
    }

    func hex(_ value: UInt16) -> String { "0x" + String(value, radix: 16, uppercase: true) }
}
