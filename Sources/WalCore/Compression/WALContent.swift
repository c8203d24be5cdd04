import Foundation

/// Reads a stored file's content, decompressing it when it is stored compressed.
///
/// Pull-style so two files can be compared chunk by chunk without holding either in memory.
final class DecodedReader {
    /// Compressed input is fed in 4 KiB pieces: zstd expands a piece at most ~32768-fold, so
    /// one refill buffers at most ~128 MiB even for a hostile frame.
    static let compressedPiece = 4 << 10
    /// The most content bytes a stored WAL file may decode to (the largest segment size).
    static let maxContent = Int(WALSegment.maxSize)

    private let fd: Int32
    private let path: String
    private let decoder: (any StreamDecoder)?
    private let method: CompressMethod
    private let limit: Int
    private var pending: [UInt8] = []
    private var offset = 0
    private var ended = false
    /// Content bytes decoded so far.
    private var decoded = 0
    /// Stored (compressed) bytes read so far.
    private(set) var storedBytes = 0

    /// - Parameter limit: the most content bytes to decode before refusing the file.
    init(fd: Int32, method: CompressMethod, path: String, limit: Int = maxContent) throws {
        self.fd = fd
        self.limit = limit
        self.path = path
        self.method = method
        decoder = try WALCodec.decoder(method)
    }

    /// The next `count` content bytes; fewer only at the end.
    func next(_ count: Int) throws -> ArraySlice<UInt8> {
        while pending.count - offset < count && !ended {
            try WALCodec.naming(path) { try refill() }
        }
        let end = min(pending.count, offset + count)
        defer { offset = end }
        return pending[offset..<end]
    }

    private func refill() throws {
        pending.removeFirst(offset)
        offset = 0
        var chunk = [UInt8](
            repeating: 0, count: decoder == nil ? WALCodec.chunkSize : Self.compressedPiece)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { return }
            throw FileError("read", path)
        }
        storedBytes += n
        guard n > 0 else {
            ended = true
            try decoder?.finish()
            return
        }
        guard let decoder else {
            pending.append(contentsOf: chunk[0..<n])
            return
        }
        try chunk.withUnsafeBytes { raw in
            try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[0..<n])) {
                decoded += $0.count
                guard decoded <= limit else {
                    throw CompressionError.corrupt(
                        path: path, method: method,
                        detail: "it decodes to more than \(limit) bytes, more than any WAL "
                            + "file; stopped there")
                }
                pending.append(contentsOf: $0)
            }
        }
    }
}

/// Compares WAL content regardless of how each side is stored.
enum WALContent {
    /// True when both readers yield the same bytes.
    static func identical(_ a: DecodedReader, _ b: DecodedReader) throws -> Bool {
        while true {
            let left = try a.next(WALCodec.chunkSize)
            let right = try b.next(WALCodec.chunkSize)
            if left != right { return false }
            if left.isEmpty { return true }
        }
    }

    /// True when two stored files (each with its method) hold the same content.
    static func identical(_ a: ArchivedFile, _ b: ArchivedFile) throws -> Bool {
        let fa = try a.open()
        defer { close(fa) }
        let fb = try b.open()
        defer { close(fb) }
        return try identical(
            DecodedReader(fd: fa, method: a.method, path: a.path),
            DecodedReader(fd: fb, method: b.method, path: b.path))
    }
}

/// A path plus how the file at it is compressed.
struct ArchivedFile {
    let path: String
    let method: CompressMethod

    /// Opens the file for reading; a symlink (or anything but a regular file) is refused.
    func open() throws -> Int32 { try Durable.openRegular(path) }
}
