import CLZ4

/// liblz4's frame API; the only file that imports CLZ4.
///
/// Each coder owns one context, freed once in `deinit`; one WAL file per coder.
enum LZ4Codec {
    /// Levels walmgr accepts: 1–2 fast, 3–12 high compression (LZ4HC).
    static let levels = 1...12

    static func failed(_ code: Int) -> Bool { LZ4F_isError(code) != 0 }

    static func message(_ code: Int) -> String { String(cString: LZ4F_getErrorName(code)) }

    /// Compresses into one lz4 frame with a content checksum.
    final class Encoder: StreamEncoder {
        private var context: OpaquePointer?
        private var preferences = LZ4F_preferences_t()
        private var output: UnsafeMutableRawBufferPointer
        private var started = false

        init(level: Int, contentSize: Int?) throws {
            guard !failed(LZ4F_createCompressionContext(&context, UInt32(LZ4F_VERSION))) else {
                throw CompressionError.library(method: .lz4, detail: "out of memory")
            }
            preferences.compressionLevel = Int32(level)
            preferences.frameInfo.blockSizeID = LZ4F_max4MB
            preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
            preferences.frameInfo.contentSize = UInt64(contentSize ?? 0)
            output = .allocate(
                byteCount: LZ4F_compressBound(WALCodec.chunkSize, &preferences)
                    + Int(LZ4F_HEADER_SIZE_MAX), alignment: 16)
        }

        deinit {
            LZ4F_freeCompressionContext(context)
            output.deallocate()
        }

        private func reserve(_ sourceSize: Int) {
            let needed = LZ4F_compressBound(sourceSize, &preferences) + Int(LZ4F_HEADER_SIZE_MAX)
            if output.count < needed {
                output.deallocate()
                output = .allocate(byteCount: needed, alignment: 16)
            }
        }

        private func emit(_ code: Int, sink: ByteSink) throws {
            guard !failed(code) else {
                throw CompressionError.library(method: .lz4, detail: message(code))
            }
            if code > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0..<code])) }
        }

        private func begin(sink: ByteSink) throws {
            guard !started else { return }
            started = true
            try emit(
                LZ4F_compressBegin(context, output.baseAddress, output.count, &preferences),
                sink: sink)
        }

        func encode(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws {
            try begin(sink: sink)
            reserve(input.count)
            try emit(
                LZ4F_compressUpdate(
                    context, output.baseAddress, output.count, input.baseAddress, input.count, nil),
                sink: sink)
        }

        func finish(sink: ByteSink) throws {
            try begin(sink: sink)
            reserve(0)
            try emit(LZ4F_compressEnd(context, output.baseAddress, output.count, nil), sink: sink)
        }
    }

    /// Decompresses lz4 frames, verifying their checksums.
    final class Decoder: StreamDecoder {
        private var context: OpaquePointer?
        private let output: UnsafeMutableRawBufferPointer
        /// LZ4F_decompress's hint: 0 once a frame is complete.
        private var hint = 1

        init() throws {
            guard !failed(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) else {
                throw CompressionError.library(method: .lz4, detail: "out of memory")
            }
            output = .allocate(byteCount: 4 << 20, alignment: 16)
        }

        deinit {
            LZ4F_freeDecompressionContext(context)
            output.deallocate()
        }

        func decode(_ input: UnsafeRawBufferPointer, sink: ByteSink) throws {
            var offset = 0
            // Loop while input is left or the output filled up (more may be buffered inside).
            while true {
                var outSize = output.count
                var inSize = input.count - offset
                let result = LZ4F_decompress(
                    context, output.baseAddress, &outSize, input.baseAddress.map { $0 + offset },
                    &inSize, nil)
                guard !failed(result) else {
                    throw CompressionError.corrupt(path: "", method: .lz4, detail: message(result))
                }
                hint = result
                offset += inSize
                if outSize > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0..<outSize])) }
                // As for zstd: stop once the input is consumed and nothing is buffered or the
                // frame ended (another call would start on a next frame header).
                if offset == input.count && (outSize < output.count || result == 0) { return }
            }
        }

        func finish() throws {
            guard hint == 0 else {
                throw CompressionError.corrupt(
                    path: "", method: .lz4, detail: "the frame is truncated")
            }
        }
    }
}
