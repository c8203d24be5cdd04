import Foundation
import Testing

@testable import WalCore

/// The pure parts of point-in-time recovery: option parsing, target times, timeline histories,
/// backup choice and the archive check, and the recovery settings written for a target.
@Suite struct PITRUnitTests {
    static let size: UInt64 = 16 << 20

    @Test func targetTimesNeedAZoneAndAreWrittenInUTC() throws {
        let t = try #require(TargetTime("2026-11-30T14:02:03.25+01:00"))
        #expect(t.postgresText == "2026-11-30 13:02:03.250000+00")
        #expect(TargetTime("2026-11-30 13:02:03Z")?.postgresText == "2026-11-30 13:02:03+00")
        #expect(TargetTime("2026-11-30T13:02-0530")?.postgresText == "2026-11-30 18:32:00+00")
        for bad in [
            "2026-11-30T14:02:03", "2026-11-30", "yesterday", "2026-02-30T10:00:00Z",
            "2026-11-30T25:00:00Z", "2026-11-30T10:00:00+16:00", "2026-11-30T10:00:00Z; DROP",
        ] {
            #expect(TargetTime(bad) == nil, "\(bad)")
        }
        #expect(TargetTime("2026-11-30T13:02:03Z")! < t)
    }

    @Test func optionsParseIntoOneTarget() throws {
        let target = try #require(
            try RecoveryTarget.parse(
                options: [
                    "--target-lsn": "0/3000148", "--target-action": "promote",
                    "--target-timeline": "latest",
                ],
                flags: ["--target-exclusive"]))
        #expect(target.kind == .lsn(LSN("0/3000148")!))
        #expect(target.inclusive == false && target.action == .promote)
        #expect(target.timeline == "latest")
        #expect(try RecoveryTarget.parse(options: [:], flags: ["--move"]) == nil)
        #expect(
            try RecoveryTarget.parse(options: [:], flags: ["--target-immediate"])?.kind
                == .immediate)
    }

    @Test func badOrContradictoryOptionsAreUsageErrors() {
        let cases: [([String: String], Set<String>)] = [
            (["--target-time": "2026-11-30 14:02"], []),
            (["--target-lsn": "3000148"], []),
            (["--target-xid": "12a"], []),
            (["--target-name": String(repeating: "x", count: 64)], []),
            (["--target-name": "a\nb"], []),
            (["--target-time": "2026-11-30T14:02:00Z", "--target-lsn": "0/1"], []),
            (["--target-action": "promote"], []),
            (["--target-lsn": "0/1", "--target-action": "resume"], []),
            (["--target-lsn": "0/1", "--target-timeline": "0"], []),
            (["--target-lsn": "0/1"], ["--target-inclusive", "--target-exclusive"]),
            ([:], ["--target-immediate", "--target-exclusive"]),
        ]
        for (options, flags) in cases {
            #expect(throws: PITRError.self, "\(options) \(flags)") {
                try RecoveryTarget.parse(options: options, flags: flags)
            }
        }
        #expect(PITRError.badOption("--target-xid", "x", "y").exitCode == 64)
    }

    @Test func optionValuesAreTakenOutOfTheArguments() throws {
        let spec = try #require(CommandCatalog.spec("restore"))
        let (rest, options) = try Walmgr.takeOptions(
            [
                "--target-time", "2026-11-30 14:02:00Z", "--move", "--target-name=a b",
                "data.master",
            ],
            for: spec)
        #expect(rest == ["--move", "data.master"])
        #expect(options == ["--target-time": "2026-11-30 14:02:00Z", "--target-name": "a b"])
        #expect(throws: WalmgrFailure.self) { try Walmgr.takeOptions(["--target-lsn"], for: spec) }
        #expect(throws: WalmgrFailure.self) {
            try Walmgr.takeOptions(["--target-lsn", "0/1", "--target-lsn=0/2"], for: spec)
        }
    }

    @Test func historyFilesGiveTheTimelinePath() throws {
        let text =
            "1\t0/5000000\tno recovery target specified\n\n2\t0/70000A0\tbefore 2026-11-30 13:02:03+00\n"
        let history = try #require(TimelineHistory(timeline: 3, text: text))
        #expect(history.steps.map(\.timeline) == [1, 2, 3])
        #expect(history.timelines(forSegment: 4, size: Self.size) == [1])
        #expect(history.timelines(forSegment: 5, size: Self.size) == [2, 1])
        #expect(history.timelines(forSegment: 6, size: Self.size) == [2])
        #expect(history.timelines(forSegment: 7, size: Self.size) == [3, 2])
        #expect(TimelineHistory(timeline: 2, text: "3\t0/1\tloop\n") == nil)
        #expect(TimelineHistory(timeline: 2, text: "1 garbage\n") == nil)
        #expect(TimelineHistory(timeline: 3, text: "1\t0/5000000\tx\n2\t0/7000A0\ty\n") == nil)
    }

    /// Segments 1…8 on timeline 1 archived a minute apart from `base`, plus extra ones.
    static func archive(
        timeline1: ClosedRange<UInt64> = 1...8, extra: [WALSegment] = [], without: [UInt64] = [],
        histories: [UInt32: String] = [:], base: Date
    ) -> ArchiveIndex {
        var segments: [WALSegment: Date] = [:]
        for n in timeline1 where !without.contains(n) {
            segments[WALSegment(timeline: 1, number: n, size: size)] = base + Double(n) * 60
        }
        for s in extra { segments[s] = base + Double(s.number) * 60 }
        return ArchiveIndex(
            dir: "/w/logs.complete", segmentSize: size, segments: segments, histories: histories)
    }

    static func backup(_ name: String, start: UInt64, stopTime: Date) -> BackupManifest {
        let startSeg = WALSegment(timeline: 1, number: start, size: size)
        return BackupManifest(
            name: name, label: "", status: "complete", startTime: "",
            stopTime: BackupManifest.isoTime(stopTime),
            startLSN: LSN(start * size + 40).description,
            stopLSN: LSN(start * size + 4000).description, startWAL: startSeg.name,
            stopWAL: startSeg.name, timeline: 1, pgVersion: 160000, systemIdentifier: "",
            sizeBytes: 0, fileCount: 0, tablespaces: [], takenFrom: "master")
    }

    @Test func theNewestBackupEndingBeforeTheTargetIsChosen() throws {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let backups = [
            Self.backup("data.master", start: 6, stopTime: base + 360),
            Self.backup("data.master.0", start: 2, stopTime: base + 120),
        ]
        let archive = Self.archive(base: base)
        func target(_ offset: Double) -> RecoveryTarget {
            RecoveryTarget(kind: .time(TargetTime(base + offset)))
        }
        #expect(
            try PITRPlan.make(target: target(400), backups: backups, named: nil, archive: archive)
                .backup.name == "data.master")
        let older = try PITRPlan.make(
            target: target(200), backups: backups, named: nil, archive: archive)
        #expect(older.backup.name == "data.master.0")
        #expect(
            older.first.name == "000000010000000000000002" && older.last.number == 8
                && older.lastIsNewest)
        #expect(throws: PITRError.self) {
            try PITRPlan.make(target: target(60), backups: backups, named: nil, archive: archive)
        }
        #expect(throws: PITRError.self) {
            try PITRPlan.make(
                target: target(200), backups: backups, named: "data.master", archive: archive)
        }
        // After the newest archived segment: nothing proves that time.
        #expect(throws: PITRError.self) {
            try PITRPlan.make(target: target(9999), backups: backups, named: nil, archive: archive)
        }
    }

    @Test func aGapIsNamedUnlessTheLSNTargetLiesBeforeIt() throws {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let backups = [Self.backup("data.master", start: 2, stopTime: base + 120)]
        let archive = Self.archive(without: [5], base: base)
        let time = RecoveryTarget(kind: .time(TargetTime(base + 200)))
        #expect(
            throws: PITRError.missingSegment(
                segment: "000000010000000000000005", dir: "/w/logs.complete",
                from: "000000010000000000000002", to: "000000010000000000000008",
                note: " (the newest archived segment on timeline 1's path: where a time "
                    + "2027-01-15 08:03:20+00 lies in the WAL is unknown until replay, so all of it must be there)"
            )
        ) {
            try PITRPlan.make(target: time, backups: backups, named: nil, archive: archive)
        }
        let lsn = RecoveryTarget(kind: .lsn(LSN(4 * Self.size + 100)))
        let plan = try PITRPlan.make(target: lsn, backups: backups, named: nil, archive: archive)
        #expect(plan.last.number == 4 && !plan.lastIsNewest)
        let past = RecoveryTarget(kind: .lsn(LSN(5 * Self.size)))
        #expect(throws: PITRError.self) {
            try PITRPlan.make(target: past, backups: backups, named: nil, archive: archive)
        }
    }

    @Test func aTargetTimelineIsFollowedThroughItsHistory() throws {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let backups = [Self.backup("data.master", start: 2, stopTime: base + 120)]
        let timeline2 = (4...6).map { WALSegment(timeline: 2, number: UInt64($0), size: Self.size) }
        let history = "1\t0/4000100\tbefore 2027-01-15 08:00:00+00\n"
        let archive = Self.archive(
            extra: timeline2, without: [4], histories: [2: history], base: base)
        let lsn = RecoveryTarget(kind: .lsn(LSN(6 * Self.size + 8)), timeline: "latest")
        let plan = try PITRPlan.make(target: lsn, backups: backups, named: nil, archive: archive)
        #expect(plan.history.timeline == 2 && plan.last.name == "000000020000000000000006")
        // Timeline 1 alone has a gap at 4 (that segment exists only on timeline 2).
        let current = RecoveryTarget(kind: .lsn(LSN(6 * Self.size + 8)))
        #expect(throws: PITRError.self) {
            try PITRPlan.make(target: current, backups: backups, named: nil, archive: archive)
        }
        let noHistory = Self.archive(extra: timeline2, base: base)
        #expect(throws: PITRError.missingHistory(timeline: 2, dir: "/w/logs.complete")) {
            try PITRPlan.make(
                target: RecoveryTarget(kind: .lsn(LSN(6 * Self.size)), timeline: "2"),
                backups: backups, named: nil, archive: noHistory)
        }
        // A branch that left timeline 1 before the backup started does not lead from it.
        let early = Self.archive(extra: timeline2, histories: [2: "1\t0/1000000\tx\n"], base: base)
        #expect(throws: PITRError.self) {
            try PITRPlan.make(target: lsn, backups: backups, named: nil, archive: early)
        }
    }

    @Test func recoverySettingsForATargetReplaceEarlierOnes() throws {
        var inputs = RecoverySettingsTests.inputs
        inputs.target = RecoveryTarget(
            kind: .time(TargetTime("2026-11-30T14:02:00+01:00")!), inclusive: false)
        inputs.standby = false
        let rendered = RecoverySettings.render(for: ServerVersion(num: 160_004), inputs)
        guard case .autoConf(let signal, _) = rendered.output else {
            Issue.record("16 writes postgresql.auto.conf")
            return
        }
        #expect(signal == "recovery.signal")
        let existing = """
            recovery_target_name = 'old point'
            recovery_target_time = '2020-01-01 00:00:00+00'
            work_mem = '64MB'

            """
        // The stale restore point goes; the earlier time is replaced where it stood.
        let golden = """
            recovery_target_time = '2026-11-30 13:02:00+00'
            work_mem = '64MB'
            restore_command = '/usr/local/bin/walmgr ''/etc/walmgr/wal slave.ini'' xrestore %f %p %r'
            recovery_target_timeline = 'current'
            recovery_target_inclusive = 'off'
            recovery_target_action = 'pause'
            archive_mode = 'off'

            """
        let once = rendered.apply(to: existing)
        #expect(once == golden)
        #expect(rendered.apply(to: once) == golden)
        // A plain restore afterwards removes every target: the standby must follow the archive.
        let plain = RecoverySettings.render(
            for: ServerVersion(num: 160_004), RecoverySettingsTests.inputs)
        #expect(!plain.apply(to: once).contains("recovery_target_time ="))
        #expect(!plain.apply(to: once).contains("recovery_target_action"))
    }

    @Test func postgres11WritesTheTargetIntoRecoveryConf() {
        var inputs = RecoverySettingsTests.inputs
        inputs.target = RecoveryTarget(kind: .name("before drop"), action: .promote)
        inputs.standby = false
        let rendered = RecoverySettings.render(for: ServerVersion(num: 110_022), inputs)
        let golden = """
            # Written by walmgr restore; walmgr replaces this file on the next restore.
            standby_mode = 'off'
            restore_command = '/usr/local/bin/walmgr ''/etc/walmgr/wal slave.ini'' xrestore %f %p %r'
            trigger_file = '/var/lib/postgresql/11/main/walmgr.trigger'
            recovery_target_timeline = 'current'
            recovery_target_name = 'before drop'
            recovery_target_action = 'promote'

            """
        #expect(rendered.output == .recoveryConf(golden))
    }
}

/// The recoverable window listbackups and status print, and its JSON round trip (the master
/// reads the slave's listbackups --json).
@Suite struct RecoverableWindowTests {
    @Test func windowRunsFromTheStopToTheLastContiguousSegment() throws {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let m = PITRUnitTests.backup("data.master", start: 2, stopTime: base + 120)
        let whole = try #require(
            RecoverableWindow.of(m, archive: PITRUnitTests.archive(base: base)))
        #expect(whole.from == m.stopTime && whole.to == BackupManifest.isoTime(base + 480))
        #expect(whole.gap == nil && whole.last == "000000010000000000000008")
        let cut = try #require(
            RecoverableWindow.of(m, archive: PITRUnitTests.archive(without: [5], base: base)))
        #expect(
            cut.to == BackupManifest.isoTime(base + 240) && cut.gap == "000000010000000000000005")
        let broken = try #require(
            RecoverableWindow.of(m, archive: PITRUnitTests.archive(without: [2], base: base)))
        #expect(broken.to == nil && broken.gap == "000000010000000000000002")
        #expect(ListBackups.window(broken) == "none: 000000010000000000000002 missing")
        #expect(ListBackups.window(cut).hasSuffix("(gap at 000000010000000000000005)"))
    }

    @Test func listedBackupsKeepTheManifestKeysAndAddTheWindow() throws {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let m = PITRUnitTests.backup("data.master", start: 2, stopTime: base + 120)
        let window = RecoverableWindow.of(
            m, archive: PITRUnitTests.archive(without: [5], base: base))
        let json = try ListBackups.json([ListedBackup(manifest: m, window: window)])
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"recoverable_gap\" : \"000000010000000000000005\""), "\(text)")
        #expect(text.contains("\"stop_lsn\""))
        let back = try JSONDecoder().decode([ListedBackup].self, from: Data(json))
        #expect(back.first?.manifest == m && back.first?.window == window)
        // The manifest decoder still reads it (older masters, status).
        #expect(try JSONDecoder().decode([BackupManifest].self, from: Data(json)) == [m])
    }
}
