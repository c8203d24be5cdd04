import Foundation

extension XRestore {
    /// Decompresses a stored `.zst`/`.lz4` file into a temp file beside `target`, runs the
    /// segment header and size checks on the decompressed bytes, then renames.
    ///
    /// A file that does not decompress (bad frame, checksum mismatch, truncation) is refused
    /// like a truncated segment: PostgreSQL never sees a byte of it. Output is bounded as it is
    /// produced (``RestoreBound``): a small hostile frame cannot fill pg_wal.
    /// - Returns: the decompressed size.
    static func deliverDecompressed(_ source: ArchivedFile, name: WALName, to target: String)
        throws -> Int
    {
        let input = try source.open()
        defer { close(input) }
        let tmp = Durable.tempPath(for: target)
        let output = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw FileError("create", tmp) }
        do {
            defer { close(output) }
            var bound = RestoreBound(name: name)
            do {
                try WALCodec.decompress(source.method, from: input, sourcePath: source.path) {
                    if let reason = bound.admit($0) {
                        throw StandbyError.badSegment(path: source.path, reason: reason)
                    }
                    try Durable.writeAll(output, $0, path: tmp)
                }
            } catch CompressionError.corrupt(_, let method, let detail) {
                throw StandbyError.badSegment(
                    path: source.path,
                    reason: "it does not decompress as \(method.rawValue) (\(detail))")
            }
            let size = Int(bound.written)
            if name.kind == .segment,
                let reason = SegmentCheck.problem(fd: output, name: name, size: size)
            {
                throw StandbyError.badSegment(path: source.path, reason: "decompressed, " + reason)
            }
            guard rename(tmp, target) == 0 else { throw FileError("rename \(tmp) to", target) }
            return size
        } catch {
            unlink(tmp)
            throw error
        }
    }
}

/// Bounds a decompressing restore before each chunk is written: a segment's long page header is
/// checked as soon as its 40 bytes exist, and output past the size that header records (1 GiB,
/// the largest WAL file, until then or for non-segments) stops decompression at once.
///
/// Why: a 99 KB `.zst` of zeros expands to gigabytes; without a bound, xrestore wrote 3 GiB
/// into pg_wal before the size check refused it.
struct RestoreBound {
    let name: WALName
    /// The most bytes the file may decompress to.
    private(set) var limit = WALSegment.maxSize
    /// Bytes admitted so far.
    private(set) var written: UInt64 = 0
    private var head: [UInt8] = []

    init(name: WALName) { self.name = name }

    /// Why `chunk` must not be written (the reason for ``StandbyError/badSegment(path:reason:)``),
    /// or nil after counting it.
    mutating func admit(_ chunk: UnsafeRawBufferPointer) -> String? {
        if name.kind == .segment, head.count < 40 {
            head.append(contentsOf: chunk.prefix(40 - head.count))
            if head.count == 40 {
                guard let header = SegmentCheck.header(head) else {
                    return "decompressed, it does not start with a WAL segment header"
                }
                if let reason = SegmentCheck.problem(header, name: name) {
                    return "decompressed, " + reason
                }
                limit = header.segmentSize
            }
        }
        let (total, overflow) = written.addingReportingOverflow(UInt64(chunk.count))
        guard !overflow, total <= limit else {
            return "it decompresses to more than \(limit) bytes, the "
                + (limit == WALSegment.maxSize
                    ? "largest WAL file there is" : "size its header records")
                + "; decompression stopped there and nothing was handed out"
        }
        written = total
        return nil
    }
}
