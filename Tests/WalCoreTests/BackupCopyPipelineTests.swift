import Foundation
import Synchronization
import Testing

@testable import WalCore

/// The local backup copy (copy_file_range, hashed back from the copy on a second thread), the
/// config files' in-process copy, and rotation's parallel delete.
@Suite struct BackupCopyPipelineTests {
    func scratch() throws -> String {
        let root = NSTemporaryDirectory() + "walmgr-pipeline-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    func put(_ path: String, _ bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ seed) }
    }

    /// `sha256sum FILE`'s digest.
    func sha256sum(_ path: String) throws -> String {
        String(RawSpawn.output(["/usr/bin/sha256sum", path]).prefix(64))
    }

    /// Every manifest entry is `sha256sum` of the file in the copy: empty files, files spanning
    /// several copy steps, and more files than the hasher keeps open at once.
    @Test func checksumsAreThoseOfTheCopiedFiles() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("\(root)/src/base/1/big", bytes(2 * KernelCopy.step + 12345, seed: 1))
        try put("\(root)/src/empty", [])
        for i in 0..<150 { try put("\(root)/src/base/5/\(i)", bytes(8192 * (i % 5), seed: i)) }
        let copied = try LocalTreeCopy.backup(
            "test", from: "\(root)/src", to: "\(root)/dst", excludes: [], progress: false)
        #expect(copied.files == 152 && copied.entries.count == 152)
        #expect(copied.entries.map(\.path) == copied.entries.map(\.path).sorted())
        for entry in copied.entries {
            let path = "\(root)/dst/\(entry.path)"
            #expect(try sha256sum(path) == entry.sha256, "\(entry.path)")
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
            #expect(Int64(size ?? -1) == entry.size, "\(entry.path)")
        }
        #expect(copied.bytes == copied.entries.reduce(0) { $0 + $1.size })
    }

    /// A file the server rewrites while it is copied (it grows and shrinks): whatever the copy
    /// got, the manifest records the size and SHA-256 of the file in the backup.
    @Test func fileChangingSizeMidCopyIsRecordedAsCopied() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = "\(root)/src/base/1/16384"
        try put(source, bytes(3 * KernelCopy.step, seed: 7))
        let stop = ManagedAtomicFlag()
        let writer = Thread {
            var round = 0
            while !stop.isSet {
                let fd = open(source, O_WRONLY | O_APPEND)
                if round % 3 == 0 { ftruncate(fd, off_t(KernelCopy.step / 2 + round)) }
                let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 65536)
                _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                round += 1
            }
        }
        writer.start()
        defer { stop.set() }
        for pass in 0..<5 {
            let copied = try LocalTreeCopy.backup(
                "test", from: "\(root)/src", to: "\(root)/dst\(pass)", excludes: [],
                progress: false)
            let entry = try #require(copied.entries.first)
            let found = try FileDigest.sha256(file: "\(root)/dst\(pass)/\(entry.path)")
            #expect(found.hex == entry.sha256 && found.size == entry.size)
            #expect(try sha256sum("\(root)/dst\(pass)/\(entry.path)") == entry.sha256)
        }
    }

    /// A copy that fails half-way (one file of many, copied on several threads) throws the
    /// backup's copy error naming that file, not the other workers' stop; it stops every hash
    /// thread and leaves no file descriptor open (the next backup starts afresh anyway).
    @Test func failedCopyThrowsAndClosesEverything() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for i in 0..<120 { try put("\(root)/src/base/1/\(i)", bytes(100_000 + i, seed: i)) }
        // A directory where the copy must create file 30: open(O_CREAT) fails with EISDIR.
        try FileManager.default.createDirectory(
            atPath: "\(root)/dst/base/1/30", withIntermediateDirectories: true)
        let error = #expect(throws: BackupError.self) {
            try LocalTreeCopy.backup(
                "test", from: "\(root)/src", to: "\(root)/dst", excludes: [], progress: false)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("\(root)/dst/base/1/30"), "\(error)")
        #expect(Self.openFiles(under: root).isEmpty)
    }

    /// This process's open descriptors on files under `root` (other tests run here too).
    static func openFiles(under root: String) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")
        }.filter { $0.hasPrefix(root) }
    }

    /// The hasher on its own, with limits so small that the copier waits for it at every step:
    /// the digests are those of the final contents, in the order the files were added.
    @Test func hasherKeepsUpUnderBackpressure() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hasher = CopyHasher(maxAhead: 4096, maxFiles: 1)
        var expected: [String] = []
        for i in 0..<5 {
            let path = "\(root)/f\(i)"
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
            let id = try hasher.add(fd: fd, path: path, entry: "f\(i)")
            var all: [UInt8] = []
            for piece in 0..<4 {
                let chunk = bytes(10_000 + piece, seed: i * 10 + piece)
                _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                hasher.advance(id, by: chunk.count)
                all += chunk
            }
            hasher.done(id)
            expected.append(FileDigest.sha256(all))
        }
        let entries = try hasher.finish()
        #expect(entries.map(\.path) == (0..<5).map { "f\($0)" })
        #expect(entries.map(\.sha256) == expected)
    }

    /// KernelCopy falls back from copy_file_range when the input cannot be copied that way
    /// (a pipe) and still copies every byte.
    @Test func kernelCopyFallsBackForAPipe() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let data = bytes(50_000, seed: 3)
        _ = data.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        close(ends[1])
        defer { close(ends[0]) }
        let fd = open("\(root)/out", O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        var copy = KernelCopy()
        var total = 0
        while case let n = try copy.next(from: ends[0], to: fd, sourcePath: "pipe", path: "out"),
            n > 0
        {
            total += n
        }
        #expect(total == data.count && copy.method != .copyFileRange)
        #expect(try FileDigest.sha256(file: "\(root)/out").hex == FileDigest.sha256(data))
    }

    /// copy_file_range returning 0 before the end (some file systems and kernels do) is not
    /// taken for the end: the rest is read and written, and the copy is whole.
    @Test func kernelCopyDoesNotTrustAZeroFromCopyFileRange() throws {
        try expectWholeCopy(size: 3 * KernelCopy.step + 77) { input, output in
            var copy = KernelCopy()
            let calls = Atomic<Int>(0)
            copy.copyRange = { source, target, count in
                calls.add(1, ordering: .relaxed).newValue == 1
                    ? KernelCopy.copyFileRange(source, target, count) : 0
            }
            while try copy.next(from: input, to: output, sourcePath: "in", path: "out") > 0 {}
            #expect(copy.method == .readWrite)
        }
    }

    /// The same for Durable.copy (xarchive, xrestore, restore --move's split copies): a 0 from
    /// sendfile before the end is not the end.
    @Test func durableCopyDoesNotTrustAZeroFromSendfile() throws {
        try expectWholeCopy(size: 3 << 20 + 5) { input, output in
            var calls = 0
            let copied = try Durable.copy(
                from: input, to: output, sourcePath: "in", path: "out", writeback: true
            ) { source, target, count in
                calls += 1
                return calls == 1 ? sendfile(target, source, nil, count) : 0
            }
            #expect(copied == 3 << 20 + 5)
        }
    }

    /// Runs `copy` from a file of `size` random bytes to an empty one and expects every byte
    /// in the output.
    func expectWholeCopy(size: Int, _ copy: (Int32, Int32) throws -> Void) throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = bytes(size, seed: size)
        try put("\(root)/in", data)
        let input = open("\(root)/in", O_RDONLY)
        let output = open("\(root)/out", O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer {
            close(input)
            close(output)
        }
        try copy(input, output)
        #expect(try FileDigest.sha256(file: "\(root)/out").hex == FileDigest.sha256(data))
    }

    /// Config files are copied in-process like `rsync -a -L`: content, mode and mtime, a
    /// symlink's target rather than the link.
    @Test func configFilesAreCopiedWithModeAndTime() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("\(root)/etc/real.conf", Array("port = 5432\n".utf8))
        chmod("\(root)/etc/real.conf", 0o640)
        var times = [
            timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0),
        ]
        utimensat(AT_FDCWD, "\(root)/etc/real.conf", &times, 0)
        try FileManager.default.createSymbolicLink(
            atPath: "\(root)/etc/pg_hba.conf", withDestinationPath: "\(root)/etc/real.conf")
        try FileManager.default.createDirectory(
            atPath: "\(root)/backup", withIntermediateDirectories: true)
        try LocalTreeCopy.copyFiles(
            ["\(root)/etc/real.conf", "\(root)/etc/pg_hba.conf"], into: "\(root)/backup")
        for name in ["real.conf", "pg_hba.conf"] {
            var st = stat()
            #expect(lstat("\(root)/backup/\(name)", &st) == 0)
            #expect(st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o7777 == 0o640, "\(name)")
            #expect(st.st_mtim.tv_sec == 1_000_000, "\(name)")
            #expect(
                try String(contentsOfFile: "\(root)/backup/\(name)", encoding: .utf8)
                    == "port = 5432\n")
        }
    }

    /// Rotation's delete removes the whole tree, symlinks themselves and not what they point
    /// to; a missing path is no error.
    @Test func treeRemovalRemovesEverythingButFollowsNoLink() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("\(root)/keep/precious", Array("x".utf8))
        for i in 0..<30 { try put("\(root)/doomed/base/\(i % 3)/\(i)", bytes(i * 100, seed: i)) }
        try FileManager.default.createDirectory(
            atPath: "\(root)/doomed/empty/deeper", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: "\(root)/doomed/pg_tblspc", withDestinationPath: "\(root)/keep")
        try TreeRemoval.remove("\(root)/doomed")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/doomed"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/keep/precious"))
        try TreeRemoval.remove("\(root)/doomed")
        try TreeRemoval.remove("\(root)/keep/precious")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/keep/precious"))
    }

    /// Names that are not UTF-8 (a Latin-1 file a user left in PGDATA, copied by rsync or cp)
    /// are removed by their bytes: decoded to text they named no file, were skipped, and the
    /// directory could not be removed (restore, cleanup and xbackupprep failed every run).
    @Test func treeRemovalRemovesNamesThatAreNotUTF8() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("\(root)/doomed/base/1/16384", [1])
        let latin1: [CChar] =
            "\(root)/doomed/caf".utf8CString.dropLast() + [CChar(bitPattern: 0xE9), 0]
        #expect(mkdir(latin1, 0o700) == 0)
        let file = Array(latin1.dropLast()) + Array("/r\u{E9}sum\u{E9}".utf8CString).map { $0 }
        let fd = open(file, O_CREAT | O_WRONLY | O_EXCL, 0o600)
        #expect(fd >= 0)
        close(fd)
        try TreeRemoval.remove("\(root)/doomed")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/doomed"))
    }

    /// A directory of the doomed tree swapped for a symlink after it was listed (a concurrent
    /// rename in the backup dir) fails the removal; the files the link points to stay.
    @Test func treeRemovalFollowsNoDirectorySwappedForALink() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("\(root)/victim/base/1/16384", Array("precious".utf8))
        try put("\(root)/doomed/base/1/16384", Array("old".utf8))
        let swapped = ManagedAtomicFlag()
        #expect(throws: FileError.self) {
            try TreeRemoval.remove("\(root)/doomed") { dir in
                guard dir == "\(root)/doomed", !swapped.isSet else { return }
                swapped.set()
                _ = rename("\(root)/doomed/base", "\(root)/moved")
                _ = symlink("\(root)/victim/base", "\(root)/doomed/base")
            }
        }
        #expect(swapped.isSet)
        #expect(FileManager.default.fileExists(atPath: "\(root)/victim/base/1/16384"))
    }

    /// xpurgewals' parallel unlink: listed files go, a missing one is no error, and a path
    /// that cannot be unlinked (a directory) is named after the others were removed.
    @Test func unlinkAllRemovesTheListAndNamesAFailure() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let names = (1...20).map { String(format: "0000000100000000000000%02X", $0) }
        for name in names { try put("\(root)/\(name)", bytes(1000, seed: 1)) }
        try TreeRemoval.unlinkAll(names.map { "\(root)/\($0)" } + ["\(root)/missing"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
        try put("\(root)/a", [1])
        try FileManager.default.createDirectory(
            atPath: "\(root)/dir", withIntermediateDirectories: true)
        #expect(throws: FileError.self) {
            try TreeRemoval.unlinkAll(["\(root)/dir", "\(root)/a"])
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/a"))
    }
}

/// A flag one thread sets and another polls.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
