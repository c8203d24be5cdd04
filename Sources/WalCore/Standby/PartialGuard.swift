import Foundation

/// Decides whether xrestore may hand a partial segment (from partial_wals, after boot wrote
/// STOP) to PostgreSQL, or must leave PostgreSQL its own copy in pg_wal.
///
/// Why: a restored file replaces pg_wal/NAME (KeepFileRestoredFromArchive). When syncdaemon's
/// partial ends before what the standby already streamed or replayed, the streamed bytes are
/// gone, and after promotion PostgreSQL re-reads its last replayed record with PANIC as the
/// error level ("invalid magic number 0000 in log segment"): boot crashed the standby that way
/// in 3 of 3 trials. So a partial is served only when it holds at least:
/// - the standby's position that boot wrote into STOP (`standby_lsn`, the larger of the last
///   received and the last replayed LSN, taken just before STOP and again before promoting);
/// - every page of pg_wal/NAME that carries a valid header for NAME (streaming may deliver
///   more after boot read the position, until promotion stops the walreceiver).
/// A partial that holds more than the standby is served: it adds what syncdaemon shipped.
/// The rule errs only towards not serving, and then PostgreSQL keeps its own bytes.
enum PartialGuard {
    /// The STOP file's text: a note for the DBA and the standby's position.
    static func stopNote(standbyLSN: LSN?) -> String {
        "written by walmgr boot: xrestore serves partial_wals"
            + (standbyLSN.map { "\nstandby_lsn = \($0)" } ?? "")
    }

    /// `standby_lsn` from a STOP file's text, or nil (an old STOP, or no position known).
    static func standbyLSN(stopText: String) -> LSN? {
        for line in stopText.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "standby_lsn"
            else { continue }
            return LSN(parts[1].trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Why the partial at `path` (segment `name`) must not be served, or nil when it may be.
    /// `target` is xrestore's PATH: PostgreSQL restores into pg_wal, so its own copy is next
    /// to it.
    static func refusal(partial path: String, name: WALName, stopFile: String, target: String)
        -> String?
    {
        // A header that does not match NAME (size, address) is xrestore's segment check's to
        // report; past this guard, start + size ≤ 2^64.
        guard let bytes = try? WALFileReader.read(path, from: 0, to: 40),
            let header = SegmentCheck.header(bytes), SegmentCheck.problem(header, name: name) == nil
        else { return nil }
        let size = header.segmentSize
        let blockSize = SegmentCheck.littleEndian(bytes, at: 36, 4)  // xlp_xlog_blcksz
        let end = dataEnd(path, size: size)
        let start = header.pageAddress
        // The last segment of the LSN space ends at 2^64 itself: saturate, never trap.
        let (sum, overflow) = start.addingReportingOverflow(end)
        let endLSN = overflow ? UInt64.max : sum
        if let text = try? String(contentsOfFile: stopFile, encoding: .utf8),
            let lsn = standbyLSN(stopText: text), lsn.value > endLSN
        {
            return "it ends at \(LSN(endLSN)), before \(lsn), which the standby already "
                + "held when boot began (standby_lsn in \(stopFile))"
        }
        guard blockSize > 0, blockSize <= size else { return nil }
        let page = (end + blockSize - 1) / blockSize * blockSize
        let walDir = (target as NSString).deletingLastPathComponent
        let own = walDir.isEmpty ? name.name : "\(walDir)/\(name.name)"
        if page < size, pageIsValid(own, offset: page, address: start + page, magic: bytes) {
            return "\(own) holds WAL past its end (a valid page at offset \(page))"
        }
        return nil
    }

    /// The offset just past the last non-zero byte (partial files are zero past what sync
    /// wrote, so this is at most the real end; trailing zero bytes of a record only make
    /// the guard refuse, never serve, too early).
    static func dataEnd(_ path: String, size: UInt64) -> UInt64 {
        let chunk: UInt64 = 1 << 16
        var high = size
        while high > 0 {
            let low = high > chunk ? high - chunk : 0
            guard let bytes = try? WALFileReader.read(path, from: low, to: high) else { return 0 }
            if let last = bytes.lastIndex(where: { $0 != 0 }) { return low + UInt64(last) + 1 }
            high = low
        }
        return 0
    }

    /// True when `path` has a WAL page header at `offset` with the partial's magic (its first
    /// two bytes) and `address` as its xlp_pageaddr: a page streaming wrote for this segment,
    /// not a zero-filled or recycled one.
    static func pageIsValid(_ path: String, offset: UInt64, address: UInt64, magic: [UInt8])
        -> Bool
    {
        guard let page = try? WALFileReader.read(path, from: offset, to: offset + 16),
            page.count == 16, page[0] == magic[0], page[1] == magic[1]
        else { return false }
        return SegmentCheck.littleEndian(page, at: 8, 8) == address  // xlp_pageaddr
    }
}
