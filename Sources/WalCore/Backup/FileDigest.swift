import Crypto
import Foundation

/// SHA-256 of backup files, streamed in 1 MiB chunks (BoringSSL's hardware-accelerated code).
public struct FileDigest {
    private var hasher = SHA256()
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0

    /// A fresh digest.
    public init() {}

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    /// The lowercase hex digest (the digest is consumed).
    public func hex() -> String { Self.hex(hasher.finalize()) }

    /// Lowercase hex of a digest's bytes.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// SHA-256 of bytes in memory, as hex.
    public static func sha256(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    /// Size and SHA-256 of the regular file at `path`, read in chunks; a
    /// symlink is refused (walmgr never follows one in its own dirs).
    public static func sha256(file path: String) throws -> (size: Int64, hex: String) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", path) }
        defer { close(fd) }
        var digest = FileDigest()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("read", path)
            }
            if n == 0 { return (digest.count, digest.hex()) }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// The read size: large enough that syscalls cost nothing next to hashing.
    static let chunk = 1 << 20
}
