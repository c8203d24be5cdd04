import Foundation

/// Writes received WAL into `partial_wals/NAME.partial` (pre-allocated to the segment size,
/// zeros past the last byte, never through a symlink) and, when a segment is whole, fsyncs it
/// and stores it into completed_wals with the same no-clobber rule as xreceive.
final class ReceiveWriter {
    /// Where the open segment lives.
    let partialDir: String
    /// completed_wals, and how segments are stored there.
    let store: WALStore
    let segmentSize: UInt64
    let method: CompressMethod
    let level: Int
    let threads: Int
    let log: Log
    /// The timeline new segment files are named with.
    private(set) var timeline: UInt32
    /// The end of the bytes written (LSN of the last byte + 1).
    private(set) var written: LSN
    /// The end of the bytes known durable (fsynced or stored).
    private(set) var flushed: LSN
    private var current: (segment: WALSegment, fd: Int32)?

    init(
        config: CommonConfig, segmentSize: UInt64, level: Int, threads: Int, start: LSN,
        timeline: UInt32, log: Log
    ) {
        partialDir = config.partialWals
        store = WALStore(directory: config.completedWals)
        method = config.compressMethod
        self.segmentSize = segmentSize
        self.level = level
        self.threads = threads
        self.log = log
        self.timeline = timeline
        written = start
        flushed = start
    }

    deinit { closeFile() }

    /// The `.partial` path of a segment.
    func partialPath(_ segment: WALSegment) -> String { "\(partialDir)/\(segment.name).partial" }

    /// Writes one XLogData payload that belongs at `start`, completing segments on the way.
    func write(_ data: ArraySlice<UInt8>, at start: LSN) throws {
        guard start <= written else { throw ReceiveError.gap(expected: written, received: start) }
        guard
            let pieces = ReceivePlan.pieces(
                start: start, count: data.count, segmentSize: segmentSize)
        else { throw ReceiveError.badMessage("WAL past the end of the LSN space at \(start)") }
        for piece in pieces {
            let fd = try file(for: piece.segment)
            let bytes = data[
                (data.startIndex + piece.range.lowerBound)..<(data.startIndex
                    + piece.range.upperBound)]
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(
                        fd, raw.baseAddress! + done, raw.count - done,
                        off_t(piece.offset) + off_t(done))
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { throw FileError("write", partialPath(current!.segment)) }
                    done += n
                }
            }
            written = max(written, LSN(start.value + UInt64(piece.range.upperBound)))
            if piece.completesSegment { try complete() }
        }
    }

    /// fsyncs the open segment: everything written is now durable.
    func flush() throws {
        if let current, flushed < written {
            guard fsync(current.fd) == 0 else {
                throw FileError("fsync", partialPath(current.segment))
            }
        }
        flushed = written
    }

    /// After the end of a timeline: the open segment stays a `.partial` of the old timeline
    /// (flushed, closed); the next bytes go to files named with `next`, from `start`.
    func switchTimeline(to next: UInt32, start: LSN) throws {
        try flush()
        closeFile()
        timeline = next
        written = start
        flushed = start
    }

    /// Closes the open segment file (the caller flushes first when it matters).
    func closeFile() {
        if let current { close(current.fd) }
        current = nil
    }

    /// The fd of segment `number`'s `.partial`, opened (and created at full size) on first use.
    private func file(for number: UInt64) throws -> Int32 {
        if let current, current.segment.number == number { return current.fd }
        try flush()
        closeFile()
        let segment = WALSegment(timeline: timeline, number: number, size: segmentSize)
        let path = partialPath(segment)
        let existed = try Durable.regularFileExists(path)
        let fd = try Durable.openRegular(path, flags: O_RDWR | O_CREAT, mode: 0o600)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw FileError("stat", path)
        }
        if UInt64(st.st_size) != segmentSize, ftruncate(fd, off_t(segmentSize)) != 0 {
            close(fd)
            throw FileError("extend to \(segmentSize) bytes", path)
        }
        if !existed {
            guard fsync(fd) == 0 else {
                close(fd)
                throw FileError("fsync", path)
            }
            try Durable.fsyncDirectory(partialDir)
        }
        current = (segment, fd)
        return fd
    }

    /// The open segment is whole: fsync it, store it in completed_wals (identical copy already
    /// there is fine, a different one is a conflict), then drop the `.partial`.
    private func complete() throws {
        guard let current else { return }
        let path = partialPath(current.segment)
        guard fsync(current.fd) == 0 else { throw FileError("fsync", path) }
        flushed = written
        let name = try WALName.validate(current.segment.name)
        let reader = try Durable.openRegular(path)
        defer { close(reader) }
        let result = try store.store(
            name, from: reader, size: Int(segmentSize), method: method, level: level,
            threads: threads)
        closeFile()
        unlink(path)
        try Durable.fsyncDirectory(partialDir)
        switch result {
        case .stored: log.info("received \(name)")
        case .alreadyPresent: log.info("received \(name) (already archived, identical)")
        }
    }
}
