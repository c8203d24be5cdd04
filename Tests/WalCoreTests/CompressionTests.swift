import Foundation
import Testing

@testable import WalCore

/// compress_method without a server: codecs, the store's duplicate check across suffixes,
/// xrestore of compressed files, and the xreceive argv.
@Suite struct CompressionTests {
    static let name = "000000010000000000000003"
    let dir: String

    init() throws {
        var template = Array("/tmp/wmz-XXXXXX".utf8CString)
        dir = String(cString: mkdtemp(&template)!)
        for sub in ["logs.complete", "logs.partial", "pgdata/pg_wal", "src"] {
            try FileManager.default.createDirectory(
                atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
    }

    var complete: String { "\(dir)/logs.complete" }

    /// A segment with a valid header and some compressible, some random content.
    static func segment(seed: UInt8 = 1) -> Data {
        var bytes = [UInt8](StandbyXRestoreTests.segment(name, size: 4 << 20, headerSize: 4 << 20))
        var state = UInt32(seed) &* 2_654_435_761
        for i in stride(from: 4096, to: bytes.count / 4, by: 1) {
            state = state &* 1_103_515_245 &+ 12345
            bytes[i] = i % 64 < 8 ? UInt8(truncatingIfNeeded: state >> 16) : UInt8(i % 7)
        }
        return Data(bytes)
    }

    func source(_ data: Data, _ tag: String = UUID().uuidString) throws -> Int32 {
        let path = "\(dir)/src/\(tag)"
        try data.write(to: URL(fileURLWithPath: path))
        return open(path, O_RDONLY | O_CLOEXEC)
    }

    func decode(_ path: String, _ method: CompressMethod) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var out = Data()
        try WALCodec.decompress(method, from: fd, sourcePath: path) { out.append(contentsOf: $0) }
        return out
    }

    @Test(arguments: [CompressMethod.zstd, .lz4], [1, 3])
    func roundTripShrinksAndRestoresExactly(method: CompressMethod, level: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = Self.segment()
        let fd = try source(data)
        defer { close(fd) }
        let wal = try WALName.validate(Self.name)
        let store = WALStore(directory: complete)
        #expect(
            try store.store(wal, from: fd, size: data.count, method: method, level: level)
                == .stored)
        let stored = store.path(wal, method)
        #expect(stored.hasSuffix(method.suffix))
        #expect(!FileManager.default.fileExists(atPath: store.path(wal)))
        let size = try FileManager.default.attributesOfItem(atPath: stored)[.size] as! Int
        #expect(size < data.count / 2)
        #expect(try decode(stored, method) == data)
    }

    @Test func emptyAndTinyInputsRoundTrip() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for method in [CompressMethod.zstd, .lz4] {
            for data in [Data(), Data("x".utf8)] {
                var packed: [UInt8] = []
                let fd = try source(data)
                try WALCodec.compress(method, level: 1, from: fd, size: data.count, sourcePath: "t")
                {
                    packed.append(contentsOf: $0)
                }
                close(fd)
                let path = "\(dir)/src/packed"
                try Data(packed).write(to: URL(fileURLWithPath: path))
                #expect(try decode(path, method) == data)
            }
        }
    }

    @Test(arguments: [0, 1, 2])
    func zstdWorkerThreadsStoreTheSameContent(threads: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = Self.segment(seed: 7)
        let fd = try source(data)
        defer { close(fd) }
        let store = WALStore(directory: complete)
        let wal = try WALName.validate(Self.name)
        #expect(
            try store.store(
                wal, from: fd, size: data.count, method: .zstd, level: 1,
                threads: threads) == .stored)
        #expect(try decode(store.path(wal, .zstd), .zstd) == data)
    }

    @Test func threadsAboveTheMaximumNameTheKey() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try WALCodec.threads(nil, configFile: "/w.ini") == WALCodec.defaultThreads)
        #expect(try WALCodec.threads(0, configFile: "/w.ini") == 0)
        let error = #expect(throws: CompressionError.self) {
            try WALCodec.threads(500, configFile: "/etc/wal-master.ini")
        }
        #expect("\(error!)".contains("compress_threads = 500 in /etc/wal-master.ini"))
    }

    @Test func levelOutOfRangeNamesTheKey() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try WALCodec.level(.zstd, nil, configFile: "/w.ini") == 1)
        #expect(try WALCodec.level(.none, 99, configFile: "/w.ini") == 0)
        let error = #expect(throws: CompressionError.self) {
            try WALCodec.level(.lz4, 40, configFile: "/etc/wal-master.ini")
        }
        #expect("\(error!)".contains("compress_level = 40 in /etc/wal-master.ini"))
    }

    @Test func duplicateCheckSpansSuffixes() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WALName.validate(Self.name)
        let store = WALStore(directory: complete)
        let data = Self.segment()
        let first = try source(data)
        defer { close(first) }
        #expect(
            try store.store(wal, from: first, size: data.count, method: .zstd, level: 1) == .stored)
        // Same content, other method or level: success, and no second copy appears.
        for (method, level) in [(CompressMethod.lz4, 1), (.none, 0), (.zstd, 5)] {
            let again = try source(data)
            defer { close(again) }
            #expect(
                try store.store(wal, from: again, size: data.count, method: method, level: level)
                    == .alreadyPresent)
        }
        // Different content under any suffix: refused, and nothing new is created.
        for method in CompressMethod.allCases {
            let other = try source(Self.segment(seed: 9))
            defer { close(other) }
            #expect(throws: DurableConflict.self) {
                try store.store(wal, from: other, size: data.count, method: method, level: 1)
            }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: complete)
        #expect(names == [Self.name + ".zst"])
        #expect(try decode(store.path(wal, .zstd), .zstd) == data)
    }

    @Test func receivedCompressedBytesAreComparedByContent() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WALName.validate(Self.name)
        let store = WALStore(directory: complete)
        let data = Self.segment()
        let plain = try source(data)
        defer { close(plain) }
        #expect(try store.store(wal, from: plain, size: data.count) == .stored)
        // What xreceive gets: lz4 bytes for the same WAL that exists uncompressed.
        var packed: [UInt8] = []
        let raw = try source(data)
        try WALCodec.compress(.lz4, level: 1, from: raw, size: data.count, sourcePath: "t") {
            packed.append(contentsOf: $0)
        }
        close(raw)
        let wire = try source(Data(packed))
        defer { close(wire) }
        #expect(
            try store.store(wal, from: wire, size: packed.count, method: .lz4, encoded: true)
                == .alreadyPresent)
        #expect(!FileManager.default.fileExists(atPath: store.path(wal, .lz4)))
    }

    @Test func storedNamesAreValidatedStrictly() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try ArchivedWAL.validate(Self.name + ".zst")
        #expect(good.method == .zstd && good.name.name == Self.name)
        #expect(try ArchivedWAL.validate("00000002.history.lz4").method == .lz4)
        for bad in [
            Self.name + ".zst.zst", Self.name + ".gz", Self.name + ".ZST", "../\(Self.name).zst",
            Self.name + ".zst;rm", ".zst", Self.name + "zst",
        ] {
            #expect(throws: WALNameError.self) { try ArchivedWAL.validate(bad) }
        }
        // Only xreceive takes a suffix; PostgreSQL's commands get plain WAL names.
        #expect(throws: WALNameError.self) {
            try ArchivedWAL.validate(Self.name + ".zst", command: "xrestore")
        }
        #expect(try ArchivedWAL.validate(Self.name + ".zst", command: "xreceive").method == .zstd)
    }
}
