import Foundation
import Testing

@testable import WalCore

/// Stale temp files in completed_wals are removed by purge, never by archiving: a directory scan
/// per segment costs more than the copy once the archive holds 100 000 files.
@Suite struct ArchiveTempSweepTests {
    static let name = "000000010000000000000003"
    let root: String
    var completed: String { "\(root)/logs.complete" }

    init() throws {
        root = NSTemporaryDirectory() + "walmgr-sweep-\(UUID().uuidString)"
        for dir in ["logs.complete", "pgdata/pg_wal"] {
            try FileManager.default.createDirectory(
                atPath: "\(root)/\(dir)", withIntermediateDirectories: true)
        }
    }

    /// A temp file as a writer killed mid-write leaves it (its PID no longer runs).
    func deadWritersTemp(for name: String) throws -> String {
        let path = "\(completed)/.\(name).\(Int32.max - 1).1a2b.walmgr-tmp"
        try Data("garbage left by kill -9".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func xarchive(_ method: CompressMethod) async throws -> Int32 {
        let source = "\(root)/pgdata/pg_wal/\(Self.name)"
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: source))
        let common = CommonConfig(
            configFile: "\(root)/wal-master.ini", jobName: "t", walmgrData: root,
            compressMethod: method)
        let config = MasterConfig(common: common, masterData: "\(root)/pgdata")
        let context = CommandContext(
            config: .master(config), log: Log(quiet: true), runner: SubprocessRunner(),
            notReally: false, arguments: [source, Self.name], flags: [],
            invocation: Invocation(
                configPath: common.configFile, command: "xarchive", arguments: [source, Self.name]))
        return try await XArchive.run(context)
    }

    /// readdir(2) on a directory raises IN_ACCESS on it (the kernel's iterate_dir), opening,
    /// fsyncing or creating files in it does not: so this sees every listing and nothing else.
    @Test(arguments: [CompressMethod.none, .zstd])
    func xarchiveNeverListsCompletedWals(method: CompressMethod) async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let stale = try deadWritersTemp(for: Self.name + method.suffix)
        let watch = try DirectoryListingWatch(completed)
        defer { watch.close() }
        #expect(try await xarchive(method) == 0)
        #expect(FileManager.default.fileExists(atPath: "\(completed)/\(Self.name)\(method.suffix)"))
        #expect(try watch.listings() == 0)
        let shipped = "\(root)/pgdata/\(ShippingState.lastFile)"
        #expect(try String(contentsOfFile: shipped, encoding: .utf8) == Self.name + "\n")
        // Left for purge, which lists the directory anyway.
        #expect(FileManager.default.fileExists(atPath: stale))
    }

    @Test func purgeRemovesDeadWritersTempsEvenWithoutABackup() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let stale = try deadWritersTemp(for: Self.name)
        let catalog = BackupCatalog(fullBackup: "\(root)/data.master")
        #expect(
            try WALPurge.purge(completedWals: completed, catalog: catalog, log: Log(quiet: true))
                == [])
        #expect(!FileManager.default.fileExists(atPath: stale))
    }
}

/// Counts listings (readdir) of one directory through inotify's IN_ACCESS on the directory
/// itself. Events are queued by the syscall, so after the code under test returned they are all
/// there to read.
struct DirectoryListingWatch {
    let fd: Int32

    init(_ dir: String) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0, inotify_add_watch(fd, dir, UInt32(IN_ACCESS | IN_ONLYDIR)) >= 0 else {
            throw FileError("inotify watch", dir)
        }
    }

    /// IN_ACCESS events on the directory itself (len 0) so far.
    func listings() throws -> Int {
        var count = 0
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EAGAIN { return count }
            guard n > 0 else { throw FileError("read inotify", "") }
            var offset = 0
            while offset < n {
                let (mask, length) = buffer.withUnsafeBytes { raw in
                    (
                        raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                        Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                if mask & UInt32(IN_ACCESS) != 0 && length == 0 { count += 1 }
                offset += 16 + length
            }
        }
    }

    func close() { _ = Glibc.close(fd) }
}
