import Foundation
import Testing

@testable import WalCore

/// The in-process backup copy honours the same excludes rsync gets.
@Suite struct LocalTreeCopyTests {
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
