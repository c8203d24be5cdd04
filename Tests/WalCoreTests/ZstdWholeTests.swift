import Foundation
import Testing

@testable import WalCore

/// xarchive's zstd path: the segment read whole, parts compressed on helper threads as
/// concatenated standard frames that every decoder (walmgr's, `zstd -d`) reads as one file.
@Suite struct ZstdWholeTests {
    let dir: String

    init() throws {
        var template = Array("/tmp/wmzw-XXXXXX".utf8CString)
        dir = String(cString: mkdtemp(&template)!)
    }

    /// 16 MiB, a default segment: four 4 MiB test segments with compressible and random bytes.
    static let segment: Data = (1...4).reduce(into: Data()) {
        $0.append(CompressionTests.segment(seed: UInt8($1)))
    }

    func file(_ data: Data) throws -> String {
        let path = "\(dir)/\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func compress(_ path: String, size: Int, threads: Int) throws -> (read: Int, out: [UInt8]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var out: [UInt8] = []
        let read = try WALCodec.compress(
            .zstd, level: 1, threads: threads, from: fd, size: size, sourcePath: path
        ) { out.append(contentsOf: $0) }
        return (read, out)
    }

    /// `zstd -l`'s frame count: the file is standard zstd to the reference tool.
    func framesByTheZstdTool(_ path: String) throws -> Int? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd") else { return nil }
        let text = RawSpawn.output(["/usr/bin/zstd", "-l", path])
        return text.split(separator: "\n").dropFirst().first?.split(separator: " ").first
            .flatMap { Int($0) }
    }

    @Test(arguments: [0, 1, 2, 3])
    func partsAreFramesThatDecodeToTheSegment(threads: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = Self.segment
        let (read, packed) = try compress(try file(data), size: data.count, threads: threads)
        #expect(read == data.count)
        let stored = try file(Data(packed))
        if let frames = try framesByTheZstdTool(stored) { #expect(frames == threads + 1) }
        let fd = open(stored, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var out = Data()
        try WALCodec.decompress(.zstd, from: fd, sourcePath: stored) { out.append(contentsOf: $0) }
        #expect(out == data)
        // The duplicate check reads it in 4 KiB pieces, across the frame boundaries.
        let plain = try file(data)
        #expect(
            try WALContent.identical(
                ArchivedFile(path: stored, method: .zstd), ArchivedFile(path: plain, method: .none))
        )
    }

    @Test func aFileThatIsNotItsStatedSizeWritesNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try file(Self.segment)
        let grown = try compress(path, size: Self.segment.count - 1, threads: 2)
        #expect(grown.read == Self.segment.count && grown.out.isEmpty)
        let shrunk = try compress(path, size: Self.segment.count + 8192, threads: 2)
        #expect(shrunk.read == Self.segment.count && shrunk.out.isEmpty)
    }

    @Test func partsCoverTheFileOnWALPageBoundaries() {
        #expect(
            ZstdCodec.partition(16 << 20, parts: 3) == [
                0..<5_586_944, 5_586_944..<11_173_888, 11_173_888..<16_777_216,
            ])
        #expect(ZstdCodec.partition(100, parts: 3) == [0..<100])
        #expect(ZstdCodec.partition(1 << 20, parts: 1) == [0..<1_048_576])
    }
}
