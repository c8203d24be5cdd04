import Foundation

/// `partial_wals`: the segment sync is filling. One file per segment, always `wal_segment_size`
/// bytes, zeros past the last synced byte (recovery stops at the first zero record there).
///
/// sync writes here directly when partial_wals is local; over ssh the slave's `xpartialsync`
/// calls the same ``write(_:offset:bytes:segmentSize:directory:)``.
enum PartialStore {
    /// Writes `bytes` at `offset` into `directory/NAME`, creating the file at `segmentSize`
    /// bytes, then fsyncs it (and the directory when the file is new).
    static func write(
        _ name: WALName, offset: UInt64, bytes: [UInt8], segmentSize: UInt64, directory: String
    ) throws {
        guard name.kind == .segment else {
            throw WalmgrFailure("xpartialsync: \(name) is not a WAL segment name")
        }
        try checkRange(offset: offset, count: UInt64(bytes.count), segmentSize: segmentSize)
        let path = "\(directory)/\(name.name)"
        // Never through a symlink: lstat first, then O_NOFOLLOW in case one appears meanwhile.
        let existed = try Durable.regularFileExists(path)
        let fd = try Durable.openRegular(path, flags: O_WRONLY | O_CREAT)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError("stat", path) }
        if UInt64(st.st_size) != segmentSize, ftruncate(fd, off_t(segmentSize)) != 0 {
            throw FileError("extend to \(segmentSize) bytes", path)
        }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
            }
            guard n > 0 else { throw FileError("write", path) }
            done += n
        }
        guard fsync(fd) == 0 else { throw FileError("fsync", path) }
        if !existed { try Durable.fsyncDirectory(directory) }
    }

    /// Refuses a segment size PostgreSQL cannot have, or a range past the segment's end.
    static func checkRange(offset: UInt64, count: UInt64, segmentSize: UInt64) throws {
        guard WALSegment.isValidSize(segmentSize) else {
            throw WalmgrFailure(
                "xpartialsync: segment size \(segmentSize) is not a power of two from 1 MiB to 1 GiB"
            )
        }
        guard offset <= segmentSize, count <= segmentSize - offset else {
            throw WalmgrFailure(
                "xpartialsync: offset \(offset) + \(count) bytes is past the end of a "
                    + "\(segmentSize)-byte segment; nothing written")
        }
    }

    /// Removes partial files whose segment archiving has completed (same name in completed_wals):
    /// the archived copy is whole, and an older partial must never shadow it. Returns the names.
    @discardableResult
    static func pruneCompleted(_ files: StandbyFiles, log: Log) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: files.partialWals)) ?? []
        var removed: [String] = []
        for name in names.sorted() {
            let base = name.hasSuffix(".partial") ? String(name.dropLast(8)) : name
            guard WALName(base)?.kind == .segment,
                access("\(files.completedWals)/\(base)", F_OK) == 0
            else { continue }
            let path = "\(files.partialWals)/\(name)"
            if unlink(path) == 0 {
                removed.append(name)
            } else {
                log.warning("could not remove \(path): \(String(cString: strerror(errno)))")
            }
        }
        if !removed.isEmpty {
            log.info("removed \(removed.count) partial segment(s) that archiving completed")
        }
        return removed
    }
}

/// `xpartialsync NAME OFFSET BYTES [SEGSIZE]` (slave): write BYTES bytes from stdin at OFFSET
/// into `partial_wals/NAME`.
///
/// SEGSIZE is the cluster's `wal_segment_size`; sync always passes it. Without it the existing
/// file's size is used, or for a new file the long page header in bytes written at offset 0.
enum XPartialSync {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let name = try WALName.validate(context.arguments[0])
        let args = context.arguments
        guard let offset = UInt64(args[1]), let count = UInt64(args[2]) else {
            throw WalmgrFailure(
                "xpartialsync: OFFSET and BYTES must be byte counts, got \(args[1]) and \(args[2])")
        }
        let directory = context.config.common.partialWals
        let given = args.count > 3 ? UInt64(args[3]) : nil
        if args.count > 3, given == nil {
            throw WalmgrFailure("xpartialsync: SEGSIZE must be a byte count, got \(args[3])")
        }
        // Before reading stdin: BYTES sizes the buffer, so it must fit the segment (1 GiB at
        // most when SEGSIZE is not given) or a hostile count would allocate without bound.
        try PartialStore.checkRange(
            offset: offset, count: count, segmentSize: given ?? WALSegment.maxSize)
        let bytes = try readExactly(Int(count))
        guard let size = given ?? knownSize("\(directory)/\(name.name)", offset, bytes) else {
            throw WalmgrFailure(
                "xpartialsync: cannot tell the segment size of new file \(directory)/\(name.name) "
                    + "from bytes at offset \(offset); pass SEGSIZE as the 4th argument")
        }
        try PartialStore.write(
            name, offset: offset, bytes: bytes, segmentSize: size, directory: directory)
        context.log.debug("wrote \(count) bytes at \(offset) into \(directory)/\(name.name)")
        return 0
    }

    /// The existing file's size, or the segment size in a long page header at offset 0.
    static func knownSize(_ path: String, _ offset: UInt64, _ bytes: [UInt8]) -> UInt64? {
        var st = stat()
        if stat(path, &st) == 0, st.st_size > 0 { return UInt64(st.st_size) }
        guard offset == 0 else { return nil }
        return SegmentCheck.header(Array(bytes.prefix(40)))?.segmentSize
    }

    /// Reads exactly `count` bytes from stdin; fewer is an error and nothing gets written.
    static func readExactly(_ count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                read(0, raw.baseAddress! + done, count - done)
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw WalmgrFailure(
                    "xpartialsync: stdin ended after \(done) of \(count) bytes; nothing written "
                        + "(the sender was interrupted; the next sync round sends them again)")
            }
            done += n
        }
        return buffer
    }
}

extension PartialStore {
    /// True when a partial file holds anything past its first page's long header (40 bytes),
    /// i.e. there is something to replay; boot does not wait for an empty one.
    static func hasRecords(_ path: String) -> Bool {
        guard let bytes = try? WALFileReader.read(path, from: 40, to: 8192) else { return false }
        return bytes.contains { $0 != 0 }
    }
}
