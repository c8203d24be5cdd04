import Foundation
import Testing

@testable import WalCore

/// Incremental backups over ssh without a server: which previous backup rsync may link from,
/// which files are sent again because rsync's whole-second mtime check cannot tell them apart,
/// and the second rsync's argv.
@Suite struct RsyncIncrementalTests {
    /// A listing as the slave's `listbackups --json` prints it.
    static func listing(_ entries: [(name: String, status: String, system: String)]) throws
        -> [UInt8]
    {
        let manifests = entries.map {
            BackupManifest(
                name: $0.name, label: "t", status: $0.status, startTime: "2026-11-30T07:00:10Z",
                stopTime: "", startLSN: "", stopLSN: "", startWAL: "", stopWAL: "", timeline: 1,
                pgVersion: 150000, systemIdentifier: $0.system, sizeBytes: 0, fileCount: 0,
                tablespaces: [], takenFrom: "master")
        }
        return Array(try JSONEncoder().encode(manifests))
    }

    @Test func linksOnlyFromTheCompleteBackupOfTheSameCluster() throws {
        let good = try Self.listing([
            ("data.master", "complete", "42"), ("data.master.0", "complete", "42"),
        ])
        let previous = try RsyncIncremental.previous(
            listing: good, fullBackupName: "data.master", systemIdentifier: "42")
        let start = try #require(ISO8601DateFormatter().date(from: "2026-11-30T07:00:10Z"))
        #expect(previous?.startTime == Int(start.timeIntervalSince1970))
        for (listing, why) in [
            (try Self.listing([("data.master", "complete", "7")]), "another cluster"),
            (try Self.listing([("data.master", "inprogress", "42")]), "not complete"),
            (try Self.listing([("data.master.0", "complete", "42")]), "none at full_backup"),
            (Array("[]".utf8), "no backup"),
        ] {
            #expect(
                try RsyncIncremental.previous(
                    listing: listing, fullBackupName: "data.master", systemIdentifier: "42")
                    == nil, "\(why)")
        }
    }

    /// A file written less than two seconds before the previous start, or after it, is sent
    /// again; an older one is left to rsync's quick check; excludes hold as for rsync.
    @Test func filesWrittenNearOrAfterThePreviousStartAreSentAgain() throws {
        let root = try TestEnv.scratchDir(prefix: "wmrsi")
        defer { TestEnv.removeScratch(root) }
        let now = Int(time(nil))
        let files = [
            ("base/5/old", now - 100), ("base/5/edge", now - 1), ("base/5/new", now + 50),
            ("pg_wal/000000010000000000000001", now), ("global/pg_internal.init", now),
            ("PG_VERSION", now - 2),
        ]
        for (path, mtime) in files {
            let full = "\(root)/\(path)"
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try "x".write(toFile: full, atomically: false, encoding: .utf8)
            let when = timespec(tv_sec: mtime, tv_nsec: 0)
            #expect(utimensat(AT_FDCWD, full, [when, when], 0) == 0)
        }
        let recent = RsyncIncremental(startTime: now).recentFiles(
            root: root, excludes: BackupCopy.dataDirExcludes)
        #expect(recent.map(\.path) == ["base/5/edge", "base/5/new"])
        #expect(recent.map(\.size) == [1, 1])
    }

    @Test func resendSendsTheListedFilesWhateverTheirMtime() {
        let ssh = SSH(host: "standby", options: [], controlDir: nil, compress: false)
        let command = RsyncIncremental.resend(
            source: "/pg/main", destination: .remote(host: "standby", path: "/w/data.master"),
            ssh: ssh, compress: true)
        let args = command.arguments
        #expect(args.contains("-I") && args.contains("--files-from=-") && args.contains("--from0"))
        #expect(args.contains("-z") && !args.contains { $0.hasPrefix("--link-dest") })
        #expect(args.suffix(3) == ["--", "/pg/main/", "standby:/w/data.master/"])
        #expect(RsyncIncremental.fileList(["a", "b/c"]) == Array("a\0b/c\0".utf8))
    }

    /// A listed file removed before the second rsync runs (a temp table's file, a dropped
    /// table's) is skipped: rsync would otherwise exit 23 and fail the backup.
    @Test func resendSkipsAListedFileThatVanished() async throws {
        let root = try TestEnv.scratchDir(prefix: "wmrsv")
        defer { TestEnv.removeScratch(root) }
        try FileManager.default.createDirectory(
            atPath: "\(root)/src/base/5", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: "\(root)/dst", withIntermediateDirectories: true)
        try "kept".write(toFile: "\(root)/src/base/5/1", atomically: false, encoding: .utf8)
        let command = RsyncIncremental.resend(
            source: "\(root)/src", destination: .local("\(root)/dst"), ssh: nil, compress: false)
        let result = try await TestEnv.runner.run(
            command, input: .bytes(RsyncIncremental.fileList(["base/5/1", "base/5/t3_99"])),
            timeout: .seconds(60))
        let succeeded = result.succeeded  // not the whole result: its stdout bytes
        #expect(succeeded, "\(result.statusText): \(result.stderrTail)")
        #expect(try String(contentsOfFile: "\(root)/dst/base/5/1", encoding: .utf8) == "kept")
    }

    /// The linking rsync skips the listed files: anchored, NUL-separated patterns, literal
    /// unless a name holds a wildcard (then every wildcard and backslash is escaped).
    @Test func linkingRsyncSkipsTheListedFilesLiterally() {
        let linking = BackupCopy.rsync(
            source: "/pg/main", destination: .remote(host: "standby", path: "/w/data.master"),
            ssh: SSH(host: "standby", options: [], controlDir: nil), compress: false,
            excludes: ["/pg_wal"], linkDest: "/w/data.master")
        let args = RsyncIncremental.skippingListed(linking).arguments
        #expect(
            args.suffix(5) == [
                "--from0", "--exclude-from=-", "--", "/pg/main/", "standby:/w/data.master/",
            ])
        let list = RsyncIncremental.excludeList(["base/5/1", "a\\b", "odd[1]*?\\x"])
        #expect(String(decoding: list, as: UTF8.self) == "/base/5/1\0/a\\b\0/odd\\[1]\\*\\?\\\\x\0")
    }
}
