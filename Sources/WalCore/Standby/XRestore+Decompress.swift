import Foundation

extension XRestore {
    /// Decompresses a stored `.zst`/`.lz4` file into a temp file beside `target`, runs the
    /// segment header and size checks on the decompressed bytes, then renames.
    ///
    /// A file that does not decompress (bad frame, checksum mismatch, truncation) is refused
    /// like a truncated segment: PostgreSQL never sees a byte of it.
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
            var size = 0
            do {
                try WALCodec.decompress(source.method, from: input, sourcePath: source.path) {
                    try Durable.writeAll(output, $0, path: tmp)
                    size += $0.count
                }
            } catch CompressionError.corrupt(_, let method, let detail) {
                throw StandbyError.badSegment(
                    path: source.path,
                    reason: "it does not decompress as \(method.rawValue) (\(detail))")
            }
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
