import Foundation

/// The archive directory (`completed_wals`) on the machine walmgr runs on.
public struct WALStore: Sendable {
    /// The directory.
    public let directory: String

    /// Creates a store for a directory.
    public init(directory: String) { self.directory = directory }

    /// The path of a WAL file in the store.
    public func path(_ name: WALName) -> String { "\(directory)/\(name.name)" }

    /// Stores `size` bytes read from `fd` under `name`, durably and without overwriting.
    /// - Throws: ``ArchiveError/shortTransfer`` when fewer bytes arrive, ``DurableConflict`` when
    ///   a different file already has the name, ``FileError`` on I/O errors.
    public func store(_ name: WALName, from fd: Int32, size: Int) throws -> Durable.StoreResult {
        try Durable.storeNoClobber(
            at: path(name),
            fill: { out in
                let copied = try Durable.copy(
                    from: fd, to: out, sourcePath: name.name, path: self.path(name))
                guard copied == size else {
                    throw ArchiveError.shortTransfer(name: name.name, expected: size, received: copied)
                }
            },
            sameContent: FileCompare.identical)
    }
}

/// Byte-for-byte file comparison.
public enum FileCompare {
    /// True when both files have the same size and bytes.
    public static func identical(_ a: String, _ b: String) throws -> Bool {
        let fa = open(a, O_RDONLY | O_CLOEXEC)
        guard fa >= 0 else { throw FileError("open", a) }
        defer { close(fa) }
        let fb = open(b, O_RDONLY | O_CLOEXEC)
        guard fb >= 0 else { throw FileError("open", b) }
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
