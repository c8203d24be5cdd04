import Foundation
import Testing

@testable import WalCore

/// restore rewrites the backup's tablespace_map with the locations it restored to: PostgreSQL
/// relinks pg_tblspc from that file when it starts from the backup_label.
@Suite struct TablespaceMapTests {
    @Test func rendersEscapedAsPostgreSQLWritesIt() {
        #expect(
            TablespaceMap.render([("16384", "/srv/ts"), ("16385", "/srv/a b\\c\nd\re")])
                == "16384 /srv/ts\n16385 /srv/a b\\\\c\\\nd\\\re\n")
        #expect(TablespaceMap.render([]) == "")
    }

    /// CR LF is one Character in Swift: each of its two bytes still gets its backslash, or
    /// PostgreSQL would end the line at the CR and read a wrong path.
    @Test func escapesBothBytesOfACRLF() {
        #expect(TablespaceMap.render([("16385", "/srv/a\r\nb")]) == "16385 /srv/a\\\r\\\nb\n")
    }

    /// The master on this host uses the tablespace's location, so restore stages it beside the
    /// standby; the staged tablespace_map must name that place, not the master's directory.
    @Test func stagedMapNamesWhereTheTablespaceWasRestored() async throws {
        let scratch = try TargetGuardTests.Scratch()
        defer { scratch.remove() }
        let masterSpace = "\(scratch.root)/space1"
        let backup = "\(scratch.walmgrData)/data.master"
        for (path, text) in [
            ("\(masterSpace)/PG_15_202209061/5/16385", "master's live file"),
            ("\(backup)/PG_VERSION", "15\n"),
            ("\(backup)/backup_label", "START WAL LOCATION: 0/2000028\n"),
            ("\(backup)/tablespace_map", "16384 \(masterSpace)\n"),
            ("\(backup)/walmgr_tblspc/16384/PG_15_202209061/5/16385", "backup's copy"),
        ] {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }
        let tablespace = BackupManifest.Tablespace(
            oid: "16384", location: masterSpace, path: "walmgr_tblspc/16384")
        let copy = TargetGuardTests.restoreCopy(
            scratch, destination: scratch.slaveData, tablespaces: [tablespace])
        // The backup on disk is the one restore picked (restore checks that before it copies).
        try Durable.replace(
            try copy.entry.manifest.encoded(), at: "\(backup)/\(BackupManifest.fileName)",
            mode: 0o600)
        let targets = try await copy.prepare()
        let fallback = "\(scratch.slaveData)_tblspc/16384"
        #expect(targets == [fallback])
        let map = try String(contentsOfFile: "\(copy.staging)/tablespace_map", encoding: .utf8)
        #expect(map == "16384 \(fallback)\n")
        let original = try String(contentsOfFile: "\(backup)/tablespace_map", encoding: .utf8)
        #expect(original == "16384 \(masterSpace)\n", "the backup keeps its own map")
    }
}
