import Foundation

/// Receives encoded or decoded bytes; the buffer is only valid during the call.
typealias ByteSink = (UnsafeRawBufferPointer) throws -> Void

/// A streaming compressor: feed input in chunks, then `finish`.
protocol StreamEncoder: AnyObject {
    /// Compresses `input`, passing whatever output is ready to `sink`.
    func encode(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws
    /// Ends the frame (flushing the rest and the checksum) into `sink`.
    func finish(sink: ByteSink) throws
}

/// A streaming decompressor: feed compressed chunks, then `finish` checks the frame was whole.
protocol StreamDecoder: AnyObject {
    /// Decompresses `input`, passing the decoded bytes to `sink`.
    func decode(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws
    /// Throws when the input ended inside a frame (a truncated file).
    func finish() throws
}

/// In-process WAL compression through libzstd and liblz4 (`compress_method`).
///
/// Frames are the libraries' standard ones with a content checksum, so `zstd -d` / `lz4 -d`
/// read an archived file by hand, and a flipped bit is detected when decoding.
public enum WALCodec {
    /// The chunk size for reading files: large enough that syscalls do not matter.
    static let chunkSize = 1 << 20

    /// The level used when `compress_level` is not set: the fastest normal level, because the
    /// archiver is serial and fsync, not ratio, is the bottleneck.
    public static func defaultLevel(_ method: CompressMethod) -> Int {
        method == .none ? 0 : 1
    }

    /// zstd worker threads when `compress_threads` is not set: 2 on a machine with 2 or more
    /// cores (a 16 MiB segment is then compressed in about half the time), else none.
    public static var defaultThreads: Int {
        ProcessInfo.processInfo.activeProcessorCount >= 2 ? 2 : 0
    }

    /// The most `compress_threads` accepts.
    public static let maxThreads = 64

    /// Checks a configured thread count; nil means the default.
    /// - Throws: ``CompressionError/badThreads(threads:configFile:)``.
    public static func threads(_ threads: Int?, configFile: String) throws -> Int {
        guard let threads else { return defaultThreads }
        guard threads <= maxThreads else {
            throw CompressionError.badThreads(threads: threads, configFile: configFile)
        }
        return threads
    }

    /// The levels a method accepts.
    public static func levels(_ method: CompressMethod) -> ClosedRange<Int> {
        switch method {
        case .none: return 0...0
        case .zstd: return ZstdCodec.levels
        case .lz4: return LZ4Codec.levels
        }
    }

    /// Checks a configured level; nil means the default.
    /// - Throws: ``CompressionError/badLevel(method:level:range:configFile:)``.
    public static func level(_ method: CompressMethod, _ level: Int?, configFile: String) throws
        -> Int
    {
        guard method != .none else { return 0 }
        guard let level else { return defaultLevel(method) }
        let range = levels(method)
        guard range.contains(level) else {
            throw CompressionError.badLevel(
                method: method, level: level, range: range, configFile: configFile)
        }
        return level
    }

    static func encoder(_ method: CompressMethod, level: Int, threads: Int = 0, size: Int?) throws
        -> (any StreamEncoder)?
    {
        switch method {
        case .none: return nil
        case .zstd: return try ZstdCodec.Encoder(level: level, threads: threads, pledgedSize: size)
        case .lz4: return try LZ4Codec.Encoder(level: level, contentSize: size)
        }
    }

    static func decoder(_ method: CompressMethod) throws -> (any StreamDecoder)? {
        switch method {
        case .none: return nil
        case .zstd: return try ZstdCodec.Decoder()
        case .lz4: return try LZ4Codec.Decoder()
        }
    }

    /// Compresses everything readable from `fd` into `sink`.
    /// - Parameters:
    ///   - threads: zstd worker threads (0: this thread compresses).
    ///   - size: the source size when known (recorded in the frame header).
    ///   - sourcePath: for error messages.
    /// - Returns: the number of source bytes read.
    @discardableResult
    static func compress(
        _ method: CompressMethod, level: Int, threads: Int = 0, from fd: Int32, size: Int?,
        sourcePath: String, sink: ByteSink
    ) throws -> Int {
        if method == .zstd, let size, size <= ZstdCodec.wholeLimit {
            return try ZstdCodec.compressWhole(
                level: level, threads: threads, from: fd, size: size, sourcePath: sourcePath,
                sink: sink)
        }
        let encoder = try encoder(method, level: level, threads: threads, size: size)
        let total = try readChunks(fd, path: sourcePath) { chunk in
            if let encoder { try encoder.encode(chunk, sink: sink) } else { try sink(chunk) }
        }
        try encoder?.finish(sink: sink)
        return total
    }

    /// A WAL file of `size` bytes compressed into an in-memory file positioned at its start,
    /// for ssh or curl to send; the caller closes its `fd`. Fewer bytes read than `size` throw.
    static func compressedInMemory(
        _ method: CompressMethod, level: Int, threads: Int, from fd: Int32, size: Int,
        name: String
    ) throws -> MemoryFile {
        var file = try MemoryFile()
        do {
            let read = try compress(
                method, level: level, threads: threads, from: fd, size: size, sourcePath: name
            ) { try file.write($0) }
            guard read == size else {
                throw ArchiveError.shortTransfer(name: name, expected: size, received: read)
            }
            try file.rewind()
            return file
        } catch {
            close(file.fd)
            throw error
        }
    }

    /// Decompresses everything readable from `fd` (stored with `method`) into `sink`.
    /// - Returns: the number of compressed bytes read.
    @discardableResult
    static func decompress(
        _ method: CompressMethod, from fd: Int32, sourcePath: String, sink: ByteSink
    ) throws -> Int {
        let decoder = try decoder(method)
        return try naming(sourcePath) {
            let total = try readChunks(fd, path: sourcePath) { chunk in
                if let decoder { try decoder.decode(chunk, sink: sink) } else { try sink(chunk) }
            }
            try decoder?.finish()
            return total
        }
    }

    /// Runs `body`, putting `path` into a corrupt-data error (the decoders do not know it).
    static func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch CompressionError.corrupt(_, let method, let detail) {
            throw CompressionError.corrupt(path: path, method: method, detail: detail)
        }
    }

    /// Calls `body` with successive chunks read from `fd` until end of file.
    static func readChunks(
        _ fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void
    )
        throws -> Int
    {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let n = read(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("read", path)
            }
            if n == 0 { return total }
            total += n
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}

/// Compressing or decompressing archived WAL failed.
public enum CompressionError: WalmgrError {
    /// `compress_level` is outside what the method accepts.
    case badLevel(method: CompressMethod, level: Int, range: ClosedRange<Int>, configFile: String)
    /// A stored file does not decompress: it is corrupt or truncated.
    case corrupt(path: String, method: CompressMethod, detail: String)
    /// `compress_threads` is above ``WALCodec/maxThreads``.
    case badThreads(threads: Int, configFile: String)
    /// The library could not set up (memory, parameters).
    case library(method: CompressMethod, detail: String)

    public var description: String {
        switch self {
        case .badLevel(let method, let level, let range, let file):
            return "compress_level = \(level) in \(file) is out of range for compress_method = "
                + "\(method.rawValue) (\(range.lowerBound)…\(range.upperBound)); set a level in "
                + "that range or remove the key to use \(WALCodec.defaultLevel(method))"
        case .badThreads(let threads, let file):
            return "compress_threads = \(threads) in \(file) is above \(WALCodec.maxThreads); "
                + "set 0…\(WALCodec.maxThreads) (0 compresses in the archiving process's own "
                + "thread) or remove the key to use \(WALCodec.defaultThreads)"
        case .corrupt(let path, let method, let detail):
            return "\(path) does not decompress as \(method.rawValue) (\(detail)): the file is "
                + "corrupt or truncated. Replace it with a good copy or remove it"
        case .library(let method, let detail):
            return "\(method.rawValue) compression could not start: \(detail)"
        }
    }
}
