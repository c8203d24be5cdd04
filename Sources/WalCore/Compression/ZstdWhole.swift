import CZstd
import Foundation

/// Whole-file zstd compression, the path xarchive takes for a WAL segment.
///
/// The file is read into memory once, and zstd reads it in place (no copy into its window).
/// With helper threads the file is cut into parts compressed at the same time, each as its own
/// standard zstd frame with a checksum; the frames are written one after the other, which is
/// what `zstd -d` and every walmgr decoder read as one file (RFC 8878, section 3: a decoder
/// decodes concatenated frames in order). This thread compresses the first part and writes it
/// while the helpers work, so the disk writes start before the last part is done.
extension ZstdCodec {
    /// Files up to this size are read whole (a segment is 16 MiB by default); larger ones stream.
    static let wholeLimit = 64 << 20
    /// A part below this size is not worth a thread.
    static let minPart = 4 << 20

    /// Reads `size` bytes from `fd` and compresses them into `sink` at `level`, with up to
    /// `threads` helper threads.
    /// - Returns: the bytes read; when that is not `size` (the file changed), nothing was
    ///   written to `sink` and the caller reports the short transfer.
    static func compressWhole(
        level: Int, threads: Int, from fd: Int32, size: Int, sourcePath: String, sink: ByteSink
    ) throws -> Int {
        let input = try WholeInput(fd: fd, size: size, path: sourcePath)
        defer { input.free() }
        guard input.count == size else { return input.count }
        let parts = partition(size, parts: min(threads + 1, max(1, size / minPart)))
        let helpers = parts.dropFirst().map { range in
            HelperFrame(UnsafeRawBufferPointer(rebasing: input.bytes[range]), level: level)
        }
        defer { for helper in helpers { helper.free() } }
        for helper in helpers { Thread { helper.run() }.start() }
        let first = UnsafeRawBufferPointer(rebasing: input.bytes[parts[0]])
        // Nothing may throw past the helpers until they are done: they read `input`.
        let written = Result {
            try Encoder(level: level, threads: 0, pledgedSize: first.count)
                .encodeWhole(first, sink: sink)
        }
        for helper in helpers { helper.done.wait() }
        try written.get()
        for helper in helpers { try sink(try helper.frame()) }
        return size
    }

    /// `size` cut into `parts` ranges of about equal length, on 8 KiB (WAL page) boundaries.
    static func partition(_ size: Int, parts: Int) -> [Range<Int>] {
        let step = (size / parts) & ~8191
        guard parts > 1, step > 0 else { return [0..<size] }
        return (0..<parts).map { i in i * step..<(i == parts - 1 ? size : (i + 1) * step) }
    }

    /// The whole file in one buffer, on huge pages where the kernel has them (fewer page
    /// faults: a 4 KiB fault per page was a fifth of xarchive's CPU time).
    struct WholeInput {
        let bytes: UnsafeMutableRawBufferPointer
        /// Bytes read: `size`, or another count when the file is shorter or longer.
        let count: Int

        init(fd: Int32, size: Int, path: String) throws {
            bytes = .allocate(byteCount: max(size, 1), alignment: 2 << 20)
            _ = madvise(bytes.baseAddress, bytes.count, MADV_HUGEPAGE)
            var total = 0
            do {
                while total < size {
                    let n = read(fd, bytes.baseAddress! + total, size - total)
                    if n < 0 && errno == EINTR { continue }
                    guard n >= 0 else { throw FileError("read", path) }
                    if n == 0 { break }
                    total += n
                }
                if total == size {  // one byte more means the file grew: not what was stat'ed
                    var extra: UInt8 = 0
                    total += max(0, read(fd, &extra, 1))
                }
            } catch {
                bytes.deallocate()
                throw error
            }
            count = total
        }

        func free() { bytes.deallocate() }
    }

    /// One part compressed on its own thread into its own buffer, as one frame.
    final class HelperFrame: @unchecked Sendable {
        // @unchecked: `run` writes the fields on the helper thread before `done` is signalled;
        // the owner reads them only after waiting for `done`.
        let input: UnsafeRawBufferPointer
        let level: Int
        let done = DispatchSemaphore(value: 0)
        private var output: UnsafeMutableRawBufferPointer?
        private var result: Result<Int, any Error> = .success(0)

        init(_ input: UnsafeRawBufferPointer, level: Int) {
            self.input = input
            self.level = level
        }

        func run() {
            defer { done.signal() }
            result = Result {
                let out = UnsafeMutableRawBufferPointer.allocate(
                    byteCount: ZSTD_compressBound(input.count), alignment: 16)
                output = out
                guard let context = ZSTD_createCCtx() else {
                    throw CompressionError.library(method: .zstd, detail: "out of memory")
                }
                defer { ZSTD_freeCCtx(context) }
                try configure(context, level: level)
                let n = ZSTD_compress2(
                    context, out.baseAddress, out.count, input.baseAddress, input.count)
                try check(n, "compress")
                return n
            }
        }

        /// The compressed frame; call after `done`.
        func frame() throws -> UnsafeRawBufferPointer {
            let n = try result.get()
            return UnsafeRawBufferPointer(rebasing: output![0..<n])
        }

        func free() { output?.deallocate() }
    }
}
