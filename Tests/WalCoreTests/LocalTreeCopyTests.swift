import Foundation
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
