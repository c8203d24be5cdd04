import Foundation
import Synchronization
import Testing

@testable import WalCore

/// The in-process backup copy honours the same excludes rsync gets.
@Suite struct LocalTreeCopyTests {
    /// A cancelled copy (the backup saw the master go away) stops before its next file.
    @Test func cancelledCopyStopsBeforeTheNextFile() async throws {
        let root = NSTemporaryDirectory() + "walmgr-tree-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(
            atPath: "\(root)/src", withIntermediateDirectories: true)
        try "data".write(toFile: "\(root)/src/PG_VERSION", atomically: false, encoding: .utf8)
        let copy = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            var copier = LocalTreeCopy(excludes: [])
            try copier.copy("\(root)/src", to: "\(root)/dst")
        }
        await #expect(throws: CancellationError.self) { try await copy.value }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/dst/PG_VERSION"))
    }

    /// Cancelling the task while its files are being copied (several threads, none of them a
    /// task) stops the copy within a step: CancellationError, the big file left short, and no
    /// descriptor left open (each worker stops its hasher before closing its output). Each
    /// step of the copy takes 100 ms here, so the 2 GiB file cannot be done before the cancel
    /// lands, however busy the machine (copied at full speed it once was, under load).
    @Test func cancellingStopsACopyUnderWay() async throws {
        let pipeline = BackupCopyPipelineTests()
        let root = try pipeline.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let size: off_t = 2 << 30  // sparse: free to make; 512 steps of 4 MiB
        try pipeline.put("\(root)/src/big", [])
        #expect(truncate("\(root)/src/big", size) == 0)
        for i in 0..<20 {
            try pipeline.put("\(root)/src/small/\(i)", pipeline.bytes(9000, seed: i))
        }
        let steps = Atomic<Int>(0)
        let copy = Task {
            var copier = LocalTreeCopy(excludes: [], checksums: true)
            copier.copyRange = { input, output, count in
                steps.add(1, ordering: .relaxed)
                usleep(100_000)
                return KernelCopy.copyFileRange(input, output, count)
            }
            try copier.copy("\(root)/src", to: "\(root)/dst")
        }
        try await waitUntil("the big file's copy is under way") {
            steps.load(ordering: .relaxed) >= 2
        }
        copy.cancel()
        await #expect(throws: CancellationError.self) { try await copy.value }
        var st = stat()
        #expect(stat("\(root)/dst/big", &st) == 0 && st.st_size < size, "stopped part-way")
        #expect(BackupCopyPipelineTests.openFiles(under: root).isEmpty)
    }

    /// Many files of mixed sizes (empty, small, several copy steps) in nested directories, with
    /// symlinks, are copied on several threads byte for byte with their mode and mtime; the
    /// entries are sorted, complete, and each the SHA-256 of the copy.
    @Test func parallelCopyOfAMixedTreeIsExact() throws {
        let pipeline = BackupCopyPipelineTests()
        let root = try pipeline.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var paths: [String] = []
        for i in 0..<240 {
            let size = [0, 1, 8192, 65_537, 200_000, 8191][i % 6]
            paths.append("base/\(i % 7)/sub\(i % 3)/\(i)")
            try pipeline.put("\(root)/src/\(paths.last!)", pipeline.bytes(size, seed: i))
        }
        for (i, size) in [3 * KernelCopy.step + 5, KernelCopy.step, 2 * KernelCopy.step - 1]
            .enumerated()
        {
            paths.append("global/big\(i)")
            try pipeline.put("\(root)/src/\(paths.last!)", pipeline.bytes(size, seed: 1000 + i))
        }
        chmod("\(root)/src/base/1/sub1/1", 0o640)
        try FileManager.default.createSymbolicLink(
            atPath: "\(root)/src/base/pg_link", withDestinationPath: "/elsewhere")
        var copier = LocalTreeCopy(excludes: [], checksums: true)
        try copier.copy("\(root)/src", to: "\(root)/dst")
        #expect(copier.entries.map(\.path) == paths.sorted())
        #expect(copier.files == paths.count)
        for entry in copier.entries {
            let copied = try Data(contentsOf: URL(fileURLWithPath: "\(root)/dst/\(entry.path)"))
            let source = try Data(contentsOf: URL(fileURLWithPath: "\(root)/src/\(entry.path)"))
            #expect(copied == source, "\(entry.path)")
            #expect(entry.sha256 == FileDigest.sha256(Array(source)), "\(entry.path)")
            #expect(entry.size == Int64(source.count), "\(entry.path)")
            var from = stat()
            var to = stat()
            stat("\(root)/src/\(entry.path)", &from)
            stat("\(root)/dst/\(entry.path)", &to)
            #expect(to.st_mode == from.st_mode && to.st_mtim.tv_nsec == from.st_mtim.tv_nsec)
        }
        #expect(copier.bytes == copier.entries.reduce(0) { $0 + $1.size })
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/dst/base/pg_link")
                == "/elsewhere")
    }

    @Test func postmasterWatchSeesAStoppedServer() throws {
        let root = NSTemporaryDirectory() + "walmgr-pm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watch = PostmasterWatch(dataDir: root, role: "master")
        #expect(watch.gone()?.contains("postmaster.pid is gone") == true)
        try "\(getpid())\n\(root)\n".write(
            toFile: "\(root)/postmaster.pid", atomically: false, encoding: .utf8)
        #expect(watch.gone() == nil, "this process runs")
        var child = pid_t(0)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(argv[0]) }
        #expect(posix_spawn(&child, "/bin/true", nil, nil, &argv, nil) == 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        try "\(child)\n".write(
            toFile: "\(root)/postmaster.pid", atomically: false, encoding: .utf8)
        #expect(watch.gone()?.contains("pid \(child)") == true)
    }

    /// The in-process copy and rsync with the same excludes copy the same entries: a tree with
    /// every excluded name at the top, one level down (where anchored patterns must not match)
    /// and as a directory where a file is expected, copied both ways and compared entry by entry.
    @Test func copiesWhatRsyncCopiesWithTheSameExcludes() async throws {
        let root = NSTemporaryDirectory() + "walmgr-tree-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let src = "\(root)/src"
        let names = [
            "pg_wal/000000010000000000000001", "pg_wal/archive_status/x.done", "pg_xlog/a",
            "pg_replslot/s1/state", "pg_dynshmem/m", "pg_notify/0000", "pg_serial/0000",
            "pg_snapshots/s", "pg_stat_tmp/global.stat", "pg_subtrans/0000", "postmaster.pid",
            "postmaster.opts", "base/pgsql_tmp/pgsql_tmp1.0", "base/1/pgsql_tmp2", "pgsql_tmp9",
            "base/1/pg_internal.init", "global/pg_internal.init", "postgresql.auto.conf.tmp",
            "current_logfiles.tmp", "backup_label", "tablespace_map", "backup_manifest",
            "backup_label.old", "standby.signal", "recovery.signal", "recovery.conf",
            "postgresql.conf.walmgr-20261130", "conf.d/x.conf.walmgr-1", "walmgr_tblspc/16400/f",
            "PG_VERSION", "global/pg_control", "base/1/1259", "postgresql.conf",
            "postgresql.auto.conf", ".hidden", "base/1/.x",
            // One level down, anchored excludes do not apply.
            "base/pg_wal/1", "base/postmaster.pid", "base/backup_label", "base/pg_replslot/s",
            "base/walmgr_tblspc/f", "base/recovery.conf",
            // Excluded file names that are directories here.
            "log/backup_manifest/inner", "tablespace_map.d/f",
        ]
        for name in names {
            let path = "\(src)/\(name)"
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try name.write(toFile: path, atomically: false, encoding: .utf8)
        }
        try FileManager.default.createSymbolicLink(
            atPath: "\(src)/pg_tblspc_link", withDestinationPath: "/elsewhere")
        try FileManager.default.createSymbolicLink(
            atPath: "\(src)/pg_snapshots/link", withDestinationPath: "/elsewhere")
        var copier = LocalTreeCopy(excludes: BackupCopy.dataDirExcludes, checksums: true)
        try copier.copy(src, to: "\(root)/ours")
        try await TestEnv.run(
            BackupCopy.rsync(
                source: src, destination: .local("\(root)/rsync's"), ssh: nil, compress: false,
                excludes: BackupCopy.dataDirExcludes))
        let ours = Self.entries(under: "\(root)/ours")
        let theirs = Self.entries(under: "\(root)/rsync's")
        #expect(
            ours == theirs,
            "only ours: \(ours.subtracting(theirs)); only rsync's: \(theirs.subtracting(ours))")
        #expect(ours.contains("base/pg_wal/1") && !ours.contains("pg_wal/archive_status"))
    }

    /// Every path under `dir`, relative, directories included.
    static func entries(under dir: String) -> Set<String> {
        Set(FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? [])
    }

    @Test func copiesTheTreeWithoutExcludedEntries() throws {
        let root = NSTemporaryDirectory() + "walmgr-tree-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let src = "\(root)/src"
        let files = [
            "PG_VERSION": "15", "base/1/1259": "heap", "base/1/pg_internal.init": "cache",
            "base/pgsql_tmp/pgsql_tmp1.0": "tmp", "pg_wal/000000010000000000000001": "wal",
            "pg_replslot/s1/state": "slot", "postmaster.pid": "123", "backup_label": "old",
            "global/pg_control": "ctl", "postgresql.auto.conf": "a = 1",
        ]
        for (path, text) in files {
            let full = "\(src)/\(path)"
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
        }
        try FileManager.default.createSymbolicLink(atPath: "\(src)/link", withDestinationPath: "/x")
        var copier = LocalTreeCopy(excludes: BackupCopy.dataDirExcludes)
        try copier.copy(src, to: "\(root)/dst")
        let fm = FileManager.default
        for kept in ["PG_VERSION", "base/1/1259", "global/pg_control", "postgresql.auto.conf"] {
            #expect(
                try String(contentsOfFile: "\(root)/dst/\(kept)", encoding: .utf8) == files[kept])
        }
        for gone in [
            "base/1/pg_internal.init", "base/pgsql_tmp", "pg_wal", "pg_replslot/s1",
            "postmaster.pid", "backup_label",
        ] {
            #expect(!fm.fileExists(atPath: "\(root)/dst/\(gone)"), "\(gone)")
        }
        #expect(fm.fileExists(atPath: "\(root)/dst/pg_replslot"), "the directory itself stays")
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(root)/dst/link") == "/x")
        #expect(copier.files == 4)
    }
}
