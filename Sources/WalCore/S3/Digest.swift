import CCurl
import Foundation

/// SHA-256, MD5 and HMAC-SHA256 from OpenSSL's libcrypto, loaded on first use (see CCurl's shim).
///
/// libcrypto is present wherever libcurl4 (OpenSSL flavour) is; walmgr only needs it for an S3
/// repository, so a directory repository never loads it.
public enum Digest {
    /// Loads libcrypto, or throws naming the library and the fix.
    public static func load() throws(S3Error) {
        if let message = walmgr_crypto_load() {
            throw .libraryMissing(library: "libcrypto.so.3", reason: String(cString: message))
        }
    }

    /// SHA-256 of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var stream = SHA256Stream()
        stream.update(bytes)
        return stream.finish()
    }

    /// MD5 of `bytes` (for `Content-MD5` only: S3 checks it against what arrived).
    public static func md5(_ bytes: [UInt8]) -> [UInt8] {
        var stream = SHA256Stream(md5: true)
        stream.update(bytes)
        return stream.finish()
    }

    /// HMAC-SHA256 of `data` with `key`.
    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        _ = key.withUnsafeBytes { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    walmgr_HMAC(
                        walmgr_EVP_sha256(), k.baseAddress, Int32(key.count), d.baseAddress,
                        data.count, o.baseAddress, &length)
                }
            }
        }
        return out
    }

    /// SHA-256 and MD5 of the first `size` bytes of `fd`, read with pread in 1 MiB pieces.
    /// `md5: false` skips MD5 (an empty result) where only the SHA-256 is checked: it is a
    /// whole extra hashing pass over a segment.
    public static func file(_ fd: Int32, size: Int, path: String, md5 wantMD5: Bool = true)
        throws -> (sha256: [UInt8], md5: [UInt8])
    {
        var sha = SHA256Stream()
        var md5: SHA256Stream? = wantMD5 ? SHA256Stream(md5: true) : nil
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < size {
            let n = pread(fd, buffer.baseAddress, min(buffer.count, size - offset), off_t(offset))
            guard n > 0 else {
                if n < 0 { throw FileError("read", path) }
                throw ArchiveError.shortTransfer(name: path, expected: size, received: offset)
            }
            let piece = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            sha.update(piece)
            md5?.update(piece)
            offset += n
        }
        return (sha.finish(), md5.take()?.finish() ?? [])
    }

    /// Lowercase hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// SHA-256 (or MD5) over bytes that arrive in pieces.
    public struct SHA256Stream: ~Copyable {
        private let context: OpaquePointer?

        /// Starts a digest; `md5` picks MD5 instead of SHA-256.
        public init(md5: Bool = false) {
            context = walmgr_EVP_MD_CTX_new()
            _ = walmgr_EVP_DigestInit_ex(
                context, md5 ? walmgr_EVP_md5() : walmgr_EVP_sha256(), nil)
        }

        /// Adds bytes.
        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            _ = walmgr_EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        }

        /// Adds bytes.
        public mutating func update(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { walmgr_EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        }

        /// The digest; the stream is finished.
        public consuming func finish() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 64)
            var length: UInt32 = 0
            _ = out.withUnsafeMutableBufferPointer {
                walmgr_EVP_DigestFinal_ex(context, $0.baseAddress, &length)
            }
            return Array(out.prefix(Int(length)))
        }

        deinit { walmgr_EVP_MD_CTX_free(context) }
    }
}
