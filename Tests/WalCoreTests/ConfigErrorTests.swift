import Foundation
import Testing

@testable import WalCore

/// Loud config errors (pure parts): the nearest-key suggestion, check's config stage, the
/// `status --json` failure object, and the directory-creation advice.
@Suite struct ConfigErrorTests {
    @Test func levenshteinCountsEdits() {
        #expect(KeySuggestion.levenshtein("kitten", "sitting") == 3)
        #expect(KeySuggestion.levenshtein("", "abc") == 3)
        #expect(KeySuggestion.levenshtein("same", "same") == 0)
        #expect(KeySuggestion.levenshtein("compres_method", "compress_method") == 1)
    }

    @Test func nearestKnownKeyOnlyWhenCloseEnough() {
        let known = ConfigKeys.known(for: .slave)
        #expect(KeySuggestion.nearest(to: "compres_method", in: known) == "compress_method")
        #expect(KeySuggestion.nearest(to: "slave_dta", in: known) == "slave_data")
        #expect(KeySuggestion.nearest(to: "logfiel", in: known) == "logfile")
        #expect(KeySuggestion.nearest(to: "foo", in: known) == nil)
        #expect(KeySuggestion.nearest(to: "totally_unrelated", in: known) == nil)
    }

    @Test func unknownKeyWarningNamesLineAndSuggestion() throws {
        let loaded = try ConfigFixture.load(
            "[walmgr]\nslave_data = /pg\ncompres_method = zstd\n", fileName: "wal-slave.ini")
        #expect(
            loaded.warnings == [
                "wal-slave.ini:3: unknown key \"compres_method\" ignored; did you mean "
                    + "compress_method?"
            ])
    }

    @Test func checkConfigStageFailsOnEachIgnoredKey() throws {
        let loaded = try ConfigFixture.load(
            "[walmgr]\nslave_data = /pg\ncompres_method = zstd\n", fileName: "wal-slave.ini")
        let results = Check.configStage(loaded.config, warnings: loaded.warnings)
        #expect(results.count == 1 && !results[0].ok)
        #expect(results[0].line.hasPrefix("FAIL config: wal-slave.ini:3: unknown key"))
        #expect(results[0].line.contains("did you mean compress_method?"))
        let clean = Check.configStage(loaded.config, warnings: [])
        #expect(clean.count == 1 && clean[0].ok)
    }

    @Test func aFixAlreadyGivenIsNotRepeated() {
        let report = CheckReport(printer: nil)
        let fix = "chown -R postgres:postgres /wd (as root)"
        report.add(.fail("walmgr_data writable", "/wd is root:root 0700", fix: fix))
        report.add(
            .fail("completed_wals writable", "/wd/logs.complete cannot be reached", fix: fix))
        report.add(.fail("standby", "no cluster", fix: "restore"))
        #expect(
            report.results[1].line
                == "FAIL completed_wals writable: same cause as walmgr_data writable above "
                + "(same fix)")
        #expect(report.results[2].fix == "restore")
    }

    /// Two typo'd keys are two findings, each with its file:line and suggestion (the shared
    /// fix text must not fold the second into "same cause").
    @Test func everyTypoedKeyKeepsItsOwnLine() throws {
        let loaded = try ConfigFixture.load(
            "[walmgr]\nslave_data = /pg\ncompres_method = zstd\nkeep_backup = 2\n",
            fileName: "wal-slave.ini")
        let report = CheckReport(printer: nil)
        report.add(Check.configStage(loaded.config, warnings: loaded.warnings))
        #expect(report.results.count == 2)
        #expect(report.results[1].line.contains("wal-slave.ini:4: unknown key \"keep_backup\""))
        #expect(report.results[1].line.contains("did you mean keep_backups?"))
    }

    @Test func statusFailureIsAJSONObject() throws {
        let text = Status.failureJSON("wal-slave.ini:2: expected \"key = value\"")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        #expect(object["error"] as? String == "wal-slave.ini:2: expected \"key = value\"")
        #expect((object["problems"] as? [String])?.count == 1)
    }

    @Test func missingDirectoryUnderAForeignParentIsCreatedNotTheParentChowned() {
        let etc = FileOwnership(
            path: "/etc", owner: "root", group: "root", mode: 0o40755, ownedByMe: false)
        #expect(
            FileOwnership.createFix("/etc/walmgr", parent: etc, for: "postgres")
                == "mkdir -p /etc/walmgr && chown postgres: /etc/walmgr (as root)")
        let mine = FileOwnership(
            path: "/srv/me", owner: "postgres", group: "postgres", mode: 0o40500, ownedByMe: true)
        #expect(
            FileOwnership.createFix("/srv/me/x", parent: mine, for: "postgres").hasPrefix("chmod"))
    }

    /// Runs the built walmgr (as the server's user when root) in `dir`.
    func walmgr(_ arguments: [String], in dir: String) async throws -> ProcessResult {
        let binary = try TestEnv.walmgrBinary(in: dir)
        return try await TestEnv.runner.run(
            Command(binary, arguments, workingDirectory: dir, user: TestEnv.runAsUser),
            input: .none, timeout: .seconds(60))
    }

    /// A slave ini in `dir` with `extra` lines after the usual keys.
    func slaveIni(in dir: String, extra: String = "") throws -> String {
        let ini = "\(dir)/wal-slave.ini"
        let bin = TestEnv.defaultBinDir.map { "slave_bin = \($0)\n" } ?? ""
        try TestEnv.writeOwned(
            ini,
            "[walmgr]\nslave_data = \(dir)/standby\n\(extra)walmgr_data = \(dir)/wd\n"
                + "completed_wals = %(walmgr_data)s/logs.complete\n"
                + "full_backup = %(walmgr_data)s/data.master\n\(bin)")
        return ini
    }

    @Test func checkFailsOnATypoedKeyAndSuggestsTheKnownOne() async throws {
        let dir = try TestEnv.scratchDir(prefix: "wmc")
        defer { TestEnv.removeScratch(dir) }
        let ini = try slaveIni(in: dir, extra: "compres_method = zstd\n")
        let result = try await walmgr([ini, "check"], in: dir)
        #expect(result.status == 1)
        #expect(
            result.output.contains(
                "FAIL config: \(ini):3: unknown key \"compres_method\" ignored; did you mean "
                    + "compress_method?"), "\(result.output)")
    }

    @Test func statusJSONWithABrokenIniPrintsAnObject() async throws {
        let dir = try TestEnv.scratchDir(prefix: "wmc")
        defer { TestEnv.removeScratch(dir) }
        let ini = "\(dir)/broken.ini"
        try TestEnv.writeOwned(ini, "[walmgr]\nslave_data = /x\nthis is not a line\n")
        let result = try await walmgr([ini, "status", "--json"], in: dir)
        #expect(result.status == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            "\(result.output)")
        #expect(object["ok"] as? Bool == false)
        #expect((object["error"] as? String)?.contains("\(ini):3") == true, "\(object)")
    }

    /// A config under a root-owned 0700 directory: the message names that directory's owner
    /// and mode, not "unknown".
    @Test(.enabled(if: TestEnv.isRoot)) func configInAClosedDirectoryNamesThatDirectory()
        async throws
    {
        let dir = try TestEnv.scratchDir(prefix: "wmc")
        defer { TestEnv.removeScratch(dir) }
        let user = try #require(TestEnv.runAsUser)
        let closed = "\(dir)/closed"
        #expect(mkdir(closed, 0o700) == 0)
        try "[walmgr]\nslave_data = /x\n".write(
            toFile: "\(closed)/wal-slave.ini", atomically: true, encoding: .utf8)
        let result = try await walmgr(["\(closed)/wal-slave.ini", "status"], in: dir)
        #expect(result.status == 1)
        #expect(
            result.stderrTail.contains(
                "its directory \(closed) cannot be entered (owner root:root, mode 0700, walmgr "
                    + "runs as \(user))"), "\(result.stderrTail)")
    }

    /// walmgr_data owned by root, mode 0700, while walmgr runs as postgres: check and status
    /// name the ownership and claim neither a missing directory nor a missing backup.
    @Test(.enabled(if: TestEnv.isRoot)) func rootOwnedWalmgrDataIsOwnershipOnly() async throws {
        let dir = try TestEnv.scratchDir(prefix: "wmc")
        defer { TestEnv.removeScratch(dir) }
        let user = try #require(TestEnv.runAsUser)
        let ini = try slaveIni(in: dir)
        let data = "\(dir)/wd"
        for sub in [data, "\(data)/logs.complete", "\(data)/data.master"] {
            #expect(mkdir(sub, 0o700) == 0)
        }
        #expect(chown(data, 0, 0) == 0)
        let check = try await walmgr([ini, "check"], in: dir)
        #expect(check.status == 1)
        #expect(
            check.output.contains(
                "FAIL walmgr_data writable: \(data) is root:root 0700, not writable by \(user) "
                    + "(walmgr runs as \(user))"), "\(check.output)")
        #expect(!check.output.contains("does not exist"), "\(check.output)")
        #expect(!check.output.contains("no complete backup"), "\(check.output)")
        let status = try await walmgr([ini, "status"], in: dir)
        #expect(status.status == 1)
        #expect(!status.output.contains("no complete backup"), "\(status.output)")
        #expect(status.output.contains("not readable by \(user)"), "\(status.output)")
    }
}
