import CZstd

/// libzstd's streaming API; the only file that imports CZstd.
///
/// Each coder owns one context, freed once in `deinit`. Coders are used by one call at a time
/// (one WAL file), so they are not Sendable.
enum ZstdCodec {
    /// Levels walmgr accepts: the library's fast (negative) levels up to its maximum.
    static let levels = Int(max(ZSTD_minCLevel(), -7))...Int(ZSTD_maxCLevel())

    static func check(_ code: Int, _ what: String) throws(CompressionError) {
        if ZSTD_isError(code) != 0 {
            throw .library(
                method: .zstd, detail: "\(what): \(String(cString: ZSTD_getErrorName(code)))")
        }
    }

    /// Sets the level and the content checksum every frame walmgr writes carries.
    static func configure(_ context: OpaquePointer, level: Int) throws {
        try check(
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)), "level")
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "checksum")
    }

    /// Compresses into zstd frames with a content checksum.
    final class Encoder: StreamEncoder {
        private let context: OpaquePointer
        private let output: UnsafeMutableRawBufferPointer

        init(level: Int, threads: Int, pledgedSize: Int?) throws {
            guard let context = ZSTD_createCCtx() else {
                throw CompressionError.library(method: .zstd, detail: "out of memory")
            }
            self.context = context
            output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
            try configure(context, level: level)
            if threads > 0 {
                // Worker threads compress jobs of the segment in parallel while this thread
                // reads and writes; a library built without them refuses, and then this
                // thread compresses alone.
                _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(threads))
            }
            if let pledgedSize {
                try check(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(pledgedSize)), "size")
            }
        }

        deinit {
            ZSTD_freeCCtx(context)
            output.deallocate()
        }

        func encode(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws {
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while inBuffer.pos < inBuffer.size {
                try step(&inBuffer, ZSTD_e_continue, sink: sink)
            }
        }

        /// Compresses `input`, the rest of the file, and ends the frame. zstd reads `input` in
        /// place (ZSTD_c_stableInBuffer) instead of copying it into its window; the encoder must
        /// not have been fed before and must have no worker threads.
        func encodeWhole(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws {
            try check(ZSTD_CCtx_setParameter(context, ZSTD_c_experimentalParam9, 1), "stable input")
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while try step(&inBuffer, ZSTD_e_end, sink: sink) != 0 {}
        }

        func finish(sink: ByteSink) throws {
            var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
            while try step(&inBuffer, ZSTD_e_end, sink: sink) != 0 {}
        }

        /// One compressStream2 call; returns what the library says is left to flush.
        @discardableResult
        private func step(
            _ inBuffer: inout ZSTD_inBuffer, _ mode: ZSTD_EndDirective, sink: ByteSink
        )
            throws -> Int
        {
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let left = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode)
            try check(left, "compress")
            if outBuffer.pos > 0 {
                try sink(UnsafeRawBufferPointer(rebasing: output[0..<outBuffer.pos]))
            }
            return left
        }
    }

    /// Decompresses zstd frames, verifying their checksums.
    final class Decoder: StreamDecoder {
        private let context: OpaquePointer
        private let output: UnsafeMutableRawBufferPointer
        /// The last decompressStream result: 0 when a frame ended exactly at the input's end.
        private var pending = 0
        private var sawInput = false

        init() throws {
            guard let context = ZSTD_createDCtx() else {
                throw CompressionError.library(method: .zstd, detail: "out of memory")
            }
            self.context = context
            output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
        }

        deinit {
            ZSTD_freeDCtx(context)
            output.deallocate()
        }

        func decode(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws {
            guard input.count > 0 else { return }
            sawInput = true
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            // Loop while input is left or the output filled up (more may be buffered inside).
            while true {
                var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
                let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                if ZSTD_isError(result) != 0 {
                    throw CompressionError.corrupt(
                        path: "", method: .zstd, detail: String(cString: ZSTD_getErrorName(result)))
                }
                pending = result
                if outBuffer.pos > 0 {
                    try sink(UnsafeRawBufferPointer(rebasing: output[0..<outBuffer.pos]))
                }
                // Done with this input once it is consumed and either the output was not
                // filled (nothing is buffered inside) or the frame ended; calling again after
                // the end would start reading a next frame header.
                if inBuffer.pos == inBuffer.size && (outBuffer.pos < outBuffer.size || result == 0)
                {
                    return
                }
            }
        }

        func finish() throws {
            guard sawInput else {
                throw CompressionError.corrupt(path: "", method: .zstd, detail: "the file is empty")
            }
            guard pending == 0 else {
                throw CompressionError.corrupt(
                    path: "", method: .zstd, detail: "the last frame is truncated")
            }
        }
    }
}
