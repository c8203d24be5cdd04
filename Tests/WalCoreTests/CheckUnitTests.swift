import Foundation
import Testing

@testable import WalCore

/// The pure parts of check and status: settings verdicts, WAL continuity, ownership advice,
/// report shapes, and the parse stage on every example config.
@Suite struct CheckUnitTests {
    static let expected = "/usr/local/bin/walmgr /etc/walmgr/wal-master.ini xarchive %p %f"

    @Test func archiveCommandVerdicts() {
        let ini = "/etc/walmgr/wal-master.ini"
        func verdict(_ live: String, library: String = "") -> CheckResult {
            MasterCheck.archiveCommand(
                live: live, library: library, expected: Self.expected, ini: ini)
        }
        #expect(verdict(Self.expected).ok)
        #expect(verdict("/bin/true").line.contains("'/bin/true' does not run walmgr xarchive"))
        #expect(verdict("").line.contains("archive_command is empty"))
        let otherIni = verdict("/usr/local/bin/walmgr /tmp/other.ini xarchive %p %f")
        #expect(!otherIni.ok && otherIni.detail.contains("/tmp/other.ini, not this ini"))
        let otherBinary = verdict("/opt/walmgr /etc/walmgr/wal-master.ini xarchive %p %f")
        #expect(!otherBinary.ok && otherBinary.detail.contains("runs /opt/walmgr, not this walmgr"))
        let library = verdict(Self.expected, library: "basic_archive")
        #expect(!library.ok && library.fix.contains("ALTER SYSTEM RESET archive_library"))
        #expect(verdict("/bin/true").fix.contains("walmgr \(ini) setup"))
    }

    @Test func settingsVerdicts() {
        #expect(MasterCheck.archiveMode("on", ini: "x").ok)
        #expect(MasterCheck.archiveMode("always", ini: "x").ok)
        #expect(!MasterCheck.archiveMode("off", ini: "x").ok)
        #expect(MasterCheck.walLevel("replica").ok)
        #expect(!MasterCheck.walLevel("minimal").ok)
        #expect(MasterCheck.pendingRestart([], restart: nil).ok)
        let pending = MasterCheck.pendingRestart(
            ["archive_mode"], restart: ["systemctl", "restart", "pg"])
        #expect(!pending.ok && pending.fix == "run systemctl restart pg")
    }

    @Test func checkLines() {
        #expect(CheckResult.pass("a", "b").line == "OK   a: b")
        #expect(CheckResult.fail("a", "b", fix: "c").line == "FAIL a: b; fix: c")
        #expect(CheckResult.fail("a", "b").line == "FAIL a: b")
    }

    static let mib16: UInt64 = 16 << 20

    @Test func contiguousWALAfterBackup() throws {
        let names = [
            "000000010000000000000003", "000000010000000000000004.zst",
            "000000010000000000000005", "000000010000000000000003.00000028.backup", "PAUSE",
        ]
        let scan = try #require(
            WALContinuity.scan(
                names: names, start: "000000010000000000000003", stop: "000000010000000000000004",
                segmentSize: Self.mib16))
        #expect(scan.reachesStop && scan.laterExisting == nil)
        #expect(scan.count == 3 && scan.last == "000000010000000000000005")
    }

    @Test func gapIsFound() throws {
        let names = ["000000010000000000000003", "000000010000000000000005"]
        let scan = try #require(
            WALContinuity.scan(
                names: names, start: "000000010000000000000003", stop: "000000010000000000000003",
                segmentSize: Self.mib16))
        #expect(scan.reachesStop)
        #expect(scan.missing == "000000010000000000000004")
        #expect(scan.laterExisting == "000000010000000000000005")
        let short = try #require(
            WALContinuity.scan(
                names: names, start: "000000010000000000000003", stop: "000000010000000000000004",
                segmentSize: Self.mib16))
        #expect(!short.reachesStop)
    }

    @Test func followsAPromotionToTheNextTimeline() throws {
        // Timeline 1 ends in 05 (archived as .partial); timeline 2 starts in the same segment.
        let names = [
            "000000010000000000000004", "000000010000000000000005.partial",
            "00000002.history", "000000020000000000000005", "000000020000000000000006",
        ]
        let scan = try #require(
            WALContinuity.scan(
                names: names, start: "000000010000000000000004", stop: "000000010000000000000004",
                segmentSize: Self.mib16))
        #expect(scan.last == "000000020000000000000006" && scan.laterExisting == nil)
        // Without the history file the branch is not followed: a gap.
        let orphan = try #require(
            WALContinuity.scan(
                names: names.filter { $0 != "00000002.history" },
                start: "000000010000000000000004", stop: "000000010000000000000004",
                segmentSize: Self.mib16))
        #expect(orphan.laterExisting == "000000020000000000000006")
    }

    @Test func ownershipFixNamesUserGroupAndMode() throws {
        let scratch = try TestEnv.scratchDir(prefix: "wmck")
        defer { TestEnv.removeScratch(scratch) }
        let dir = "\(scratch)/mine"
        #expect(mkdir(dir, 0o500) == 0)
        let found = try #require(FileOwnership(dir))
        #expect(found.modeText == "0500")
        #expect(found.ownedByMe)
        #expect(found.fix(for: UserAccount.currentName) == "chmod u+rwx \(dir)")
        chmod(dir, 0o700)
        let foreign = FileOwnership(
            path: "/x/logs.complete", owner: "root", group: "root", mode: 0o40755, ownedByMe: false)
        #expect(foreign.modeText == "0755")
        let fix = foreign.fix(for: "postgres")
        #expect(fix.hasPrefix("chown -R postgres:") && fix.contains("/x/logs.complete"))
    }

    @Test func statusJSONHasTheDesignKeys() throws {
        let report = StatusReport(role: .master)
        report.set("archiving", .object(["ready_files": .int(3), "last_archived_wal": .null]))
        report.problem("archiving is failing")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(report.jsonText().utf8)) as? [String: Any])
        #expect(object["role"] as? String == "master")
        #expect(object["ok"] as? Bool == false)
        #expect(object["problems"] as? [String] == ["archiving is failing"])
        #expect((object["archiving"] as? [String: Any])?["ready_files"] as? Int == 3)
        #expect(report.text().contains("problem: archiving is failing"))
        #expect(report.text().contains("  ready_files: 3"))
    }

    /// Every example config parses and sets the keys its role needs.
    @Test func everyExampleConfigPassesTheParseStage() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path)
            .filter { $0.hasSuffix(".ini") }
        #expect(files.count >= 2)
        for file in files {
            let results = try Check.parseStage(path: examples.appendingPathComponent(file).path)
            let failed = results.filter { !$0.ok }.map(\.line)
            #expect(failed.isEmpty, "\(file): \(failed)")
        }
    }

    @Test func slaveVersionsCompare() {
        #expect(SlaveProbe.parseVersion("walmgr 0.1.0\n") == "0.1.0")
        #expect(SlaveProbe.parseVersion("bash: walmgr: not found") == nil)
        #expect(SlaveProbe.compatible("0.1.0", "0.1.3"))
        #expect(!SlaveProbe.compatible("0.2.0", "0.1.0"))
    }

    @Test func perCommandHelp() throws {
        let fromHelp = try #require(CommandHelp.intercept(["help", "check"]))
        let fromFlag = try #require(
            CommandHelp.intercept(["-v", "--set", "k=v", "m.ini", "check", "--help"]))
        #expect(fromHelp.text == fromFlag.text && fromHelp.status == 0)
        #expect(fromHelp.text.contains("CONFIG.ini check [--archive]"))
        #expect(fromHelp.text.contains("exit: 0 every check passed"))
        #expect(CommandHelp.intercept(["help", "nope"])?.status == 64)
        #expect(CommandHelp.intercept(["m.ini", "status", "--json"]) == nil)
        #expect(CommandHelp.intercept(["--help"]) == nil, "the global help stays ArgumentParser's")
        for spec in CommandCatalog.all {
            #expect(
                CommandHelp.text(for: spec.name)?.contains(spec.summary) == true, "\(spec.name)")
        }
    }
}
