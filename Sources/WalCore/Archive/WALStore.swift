import Foundation

/// The archive directory (`completed_wals`) on the machine walmgr runs on.
public struct WALStore: Sendable {
    /// The directory.
    public let directory: String

    /// Creates a store for a directory.
    public init(directory: String) { self.directory = directory }

    /// The path of a WAL file in the store, with the suffix for `method`.
    public func path(_ name: WALName, _ method: CompressMethod = .none) -> String {
        "\(directory)/\(name.name)\(method.suffix)"
    }

    /// Stores `size` bytes read from `fd` under `name`, durably and without overwriting.
    ///
    /// The stored name carries `method`'s suffix. When `encoded` is false the bytes are WAL
    /// content and are compressed here at `level` with `threads` zstd workers; when true they
    /// already are `method` data (xreceive). A copy of the same WAL under another suffix counts
    /// as existing: identical content is success and nothing is added, different content is a
    /// conflict.
    /// - Throws: ``ArchiveError/shortTransfer`` when fewer bytes arrive, ``DurableConflict`` when
    ///   a different file already has the name, ``FileError`` on I/O errors.
    public func store(
        _ name: WALName, from fd: Int32, size: Int, method: CompressMethod = .none,
        level: Int = 0, threads: Int = 0, encoded: Bool = false
    ) throws -> Durable.StoreResult {
        let target = path(name, method)
        let incoming = encoded ? method : .none
        // lstat: a symlink under the target name counts as there, and storeNoClobber refuses it.
        if try !Durable.regularFileExists(target),
            let other = ArchivedWAL.find(name, in: directory).first(where: { $0.method != method })
        {
            return try compare(other, with: fd, size: size, storedAs: incoming, name: name)
        }
        return try Durable.storeNoClobber(
            at: target,
            fill: { out in
                let copied: Int
                if encoded || method == .none {
                    copied = try Durable.copy(
                        from: fd, to: out, sourcePath: name.name, path: target)
                } else {
                    var writeback = Durable.Writeback(fd: out)
                    copied = try WALCodec.compress(
                        method, level: level, threads: threads, from: fd, size: size,
                        sourcePath: name.name
                    ) {
                        try Durable.writeAll(out, $0, path: target)
                        writeback.wrote($0.count)
                    }
                }
                guard copied == size else {
                    throw ArchiveError.shortTransfer(
                        name: name.name, expected: size, received: copied)
                }
            },
            sameContent: { existing, written in
                method == .none
                    ? try FileCompare.identical(existing, written)
                    : try WALContent.identical(
                        ArchivedFile(path: existing, method: method),
                        ArchivedFile(path: written, method: method))
            })
    }

    /// Stores the durable (fsynced) uncompressed file `source` under `name` by hard-linking it,
    /// without copying a byte, with `store`'s no-clobber rule: an identical file already there
    /// is `.alreadyPresent`, a different one a ``DurableConflict``. Returns nil when a link
    /// cannot do it (another filesystem, no hard links, a copy under another suffix to compare
    /// with): the caller stores a copy with `store`.
    public func storeLinking(_ name: WALName, source: String) throws -> Durable.StoreResult? {
        let target = path(name)
        if try !Durable.regularFileExists(target),
            ArchivedWAL.find(name, in: directory).contains(where: { $0.method != .none })
        {
            return nil
        }
        guard link(source, target) != 0 else {
            try Durable.fsyncDirectory(directory)
            return .stored
        }
        let err = errno
        if [EXDEV, EPERM, EMLINK, EOPNOTSUPP].contains(err) { return nil }
        guard err == EEXIST, try Durable.regularFileExists(target) else {
            throw FileError("link \(source) to", target, errno: err)
        }
        guard try FileCompare.identical(target, source) else { throw DurableConflict(path: target) }
        try Durable.syncExisting(target)
        return .alreadyPresent
    }

    /// Compares an existing copy under another suffix with the incoming bytes.
    private func compare(
        _ existing: ArchivedWAL, with fd: Int32, size: Int, storedAs method: CompressMethod,
        name: WALName
    ) throws -> Durable.StoreResult {
        let file = ArchivedFile(path: "\(directory)/\(existing.fileName)", method: existing.method)
        let existingFD = try file.open()
        defer { close(existingFD) }
        let incoming = try DecodedReader(fd: fd, method: method, path: name.name)
        let same = try WALContent.identical(
            DecodedReader(fd: existingFD, method: existing.method, path: file.path), incoming)
        guard incoming.storedBytes == size || !same else {
            throw ArchiveError.shortTransfer(
                name: name.name, expected: size, received: incoming.storedBytes)
        }
        guard same else { throw DurableConflict(path: file.path) }
        try Durable.syncExisting(file.path)
        return .alreadyPresent
    }
}

/// Byte-for-byte file comparison.
public enum FileCompare {
    /// True when both files have the same size and bytes; a symlink is refused, not followed.
    public static func identical(_ a: String, _ b: String) throws -> Bool {
        let fa = try Durable.openRegular(a)
        defer { close(fa) }
        let fb = try Durable.openRegular(b)
        defer { close(fb) }
        var sa = stat()
        var sb = stat()
        guard fstat(fa, &sa) == 0, fstat(fb, &sb) == 0 else { throw FileError("stat", a) }
        guard sa.st_size == sb.st_size else { return false }
        let chunk = 1 << 20
        var ba = [UInt8](repeating: 0, count: chunk)
        var bb = [UInt8](repeating: 0, count: chunk)
        while true {
            let na = ba.withUnsafeMutableBytes { read(fa, $0.baseAddress, chunk) }
            let nb = bb.withUnsafeMutableBytes { read(fb, $0.baseAddress, chunk) }
            guard na >= 0, nb >= 0 else { throw FileError("read", na < 0 ? a : b) }
            if na != nb { return false }
            if na == 0 { return true }
            if ba[0..<na] != bb[0..<nb] { return false }
        }
    }
}
