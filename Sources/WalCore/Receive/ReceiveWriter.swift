import Foundation

/// Writes received WAL into `partial_wals/NAME.partial` (pre-allocated to the segment size,
/// zeros past the last byte, never through a symlink) and, when a segment is whole, fsyncs it
/// and stores it into completed_wals with the same no-clobber rule as xreceive (a hard link
/// when uncompressed, so the 16 MB are not written twice).
///
/// `flushed` only ever moves to what `sync` returned success for: a reply built from it never
/// acknowledges WAL that is not on disk.
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
    /// Write zeros over a new segment file (as PostgreSQL does for its own WAL) instead of
    /// leaving it sparse: then each later `fdatasync` writes data only, not the block
    /// allocation too. For synchronous mode, where every commit waits for one.
    let zeroFill: Bool
    /// How the open segment is made durable: `fdatasync` (the size never changes, and a zeroed
    /// file needs no metadata); tests wrap it to see what was synced.
    let sync: (Int32) -> Int32
    /// The timeline new segment files are named with.
    private(set) var timeline: UInt32
    /// The end of the bytes written (LSN of the last byte + 1).
    private(set) var written: LSN
    /// The end of the bytes known durable (fsynced or stored).
    private(set) var flushed: LSN
    private var current: (segment: WALSegment, fd: Int32)?

    init(
        config: CommonConfig, segmentSize: UInt64, level: Int, threads: Int, start: LSN,
        timeline: UInt32, log: Log, zeroFill: Bool = false,
        sync: @escaping (Int32) -> Int32 = { fdatasync($0) }
    ) {
        partialDir = config.partialWals
        store = WALStore(directory: config.completedWals)
        method = config.compressMethod
        self.segmentSize = segmentSize
        self.level = level
        self.threads = threads
        self.log = log
        self.zeroFill = zeroFill
        self.sync = sync
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

    /// fdatasyncs the open segment: everything written is now durable.
    func flush() throws {
        let end = written
        if let current, flushed < end {
            guard sync(current.fd) == 0 else {
                throw FileError("fdatasync", partialPath(current.segment))
            }
        }
        flushed = end
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
        do {
            if !existed && zeroFill {
                try writeZeros(fd, path: path)
            } else if UInt64(st.st_size) != segmentSize, ftruncate(fd, off_t(segmentSize)) != 0 {
                throw FileError("extend to \(segmentSize) bytes", path)
            }
        } catch {
            close(fd)
            throw error
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

    /// Fills a new segment file with zeros, 1 MiB per write.
    private func writeZeros(_ fd: Int32, path: String) throws {
        let chunk = [UInt8](repeating: 0, count: Int(min(segmentSize, 1 << 20)))
        var offset: UInt64 = 0
        while offset < segmentSize {
            let count = Int(min(UInt64(chunk.count), segmentSize - offset))
            let n = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress!, count, off_t(offset)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw FileError("write zeros to", path) }
            offset += UInt64(n)
        }
    }

    /// The open segment is whole: fsync it, store it in completed_wals (identical copy already
    /// there is fine, a different one is a conflict), then drop the `.partial`.
    private func complete() throws {
        guard let current else { return }
        let path = partialPath(current.segment)
        guard sync(current.fd) == 0 else { throw FileError("fdatasync", path) }
        flushed = written
        let name = try WALName.validate(current.segment.name)
        let result = try storeSegment(name, path: path)
        closeFile()
        unlink(path)
        try Durable.fsyncDirectory(partialDir)
        switch result {
        case .stored: log.info("received \(name)")
        case .alreadyPresent: log.info("received \(name) (already archived, identical)")
        }
    }

    /// Stores the durable `.partial` under `name`: linked when uncompressed and possible,
    /// else copied (compressed per `method`).
    private func storeSegment(_ name: WALName, path: String) throws -> Durable.StoreResult {
        if method == .none, let linked = try store.storeLinking(name, source: path) {
            return linked
        }
        let reader = try Durable.openRegular(path)
        defer { close(reader) }
        return try store.store(
            name, from: reader, size: Int(segmentSize), method: method, level: level,
            threads: threads)
    }
}
