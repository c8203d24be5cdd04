import Foundation
import Testing

@testable import WalCore

@Suite("Config files, overrides and warnings")
struct ConfigFileTests {
    /// The package root, found from this file's path.
    private static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(
        "the shipped examples load without errors or warnings",
        arguments: [
            ("wal-master.ini", Role.master), ("wal-slave.ini", Role.slave), ("s3.ini", Role.slave),
        ])
    func examples(name: String, role: Role) throws {
        let path = Self.packageRoot.appendingPathComponent("examples/\(name)").path
        let loaded = try ConfigLoader.load(path: path, overrides: [])
        #expect(loaded.config.role == role)
        #expect(loaded.warnings == [])
        #expect(loaded.config.common.configFile == path)
        #expect(!loaded.config.common.completedWals.isEmpty)
    }

    @Test(
        "every key of a role is in docs/walmgr.md and in that role's example, set or commented",
        arguments: [("wal-master.ini", ConfigKeys.master), ("wal-slave.ini", ConfigKeys.slave)])
    func everyKeyIsDocumented(example: String, roleKeys: [String]) throws {
        let doc = try String(
            contentsOf: Self.packageRoot.appendingPathComponent("docs/walmgr.md"), encoding: .utf8)
        let lines = try String(
            contentsOf: Self.packageRoot.appendingPathComponent("examples/\(example)"),
            encoding: .utf8
        ).split(separator: "\n").map { $0.drop(while: { $0 == "#" }) }
        for key in ConfigKeys.common + roleKeys {
            #expect(doc.contains("`\(key)`"), "docs/walmgr.md does not describe \(key)")
            #expect(
                lines.contains { $0.hasPrefix("\(key) =") }, "examples/\(example) lacks \(key)")
        }
    }

    @Test("every command has a section in docs/walmgr.md")
    func everyCommandIsDocumented() throws {
        let doc = try String(
            contentsOf: Self.packageRoot.appendingPathComponent("docs/walmgr.md"), encoding: .utf8)
        for command in CommandCatalog.all.map(\.name) {
            #expect(doc.contains("`\(command)"), "docs/walmgr.md does not describe \(command)")
        }
    }

    @Test("docs/man/walmgr.1 is what `walmgr help --man` renders (`make man` regenerates it)")
    func manPageIsCurrent() throws {
        let page = try String(
            contentsOf: Self.packageRoot.appendingPathComponent("docs/man/walmgr.1"),
            encoding: .utf8)
        let th = try #require(page.split(separator: "\n").first { $0.hasPrefix(".TH ") })
        let date = String(th.split(separator: " ")[3])
        #expect(page == ManPage.render(date: date), "docs/man/walmgr.1 is stale: run make man")
        for command in CommandCatalog.all.map(\.name) {
            #expect(page.contains("\\fB\(command.replacingOccurrences(of: "-", with: "\\-"))"))
        }
    }

    @Test("man page text cannot start a roff request or break a line")
    func manPageEscapes() {
        #expect(ManPage.escape(".ready files") == "\\&.ready files")
        #expect(ManPage.escape("'quoted'") == "\\&'quoted'")
        #expect(ManPage.escape("a\\b --json") == "a\\eb \\-\\-json")
        #expect(ManPage.escaped("one\n\ntwo") == ["one", ".PP", "two"])
    }

    @Test("--set overrides file values and takes part in interpolation")
    func overrides() throws {
        let text = "[walmgr]\nmaster_data = /pg\nwalmgr_data = /w\nloop_delay = 10\n"
        let m = try ConfigFixture.master(
            text, overrides: ["walmgr_data=/other", "LOOP_DELAY = 2.5", "slave=%(host_name)s"])
        #expect(m.common.completedWals == "/other/logs.complete")
        #expect(m.loopDelay == 2.5)
        #expect(m.slave == "db1")
    }

    @Test("--set without = or without a key is a usage error (exit 64)", arguments: ["x", "=v"])
    func badOverride(raw: String) {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load("[walmgr]\n", overrides: [raw])
        }
        #expect(error == .badOverride(raw))
        #expect(error?.exitCode == 64)
        #expect(
            error?.description == "--set \(raw): expected --set KEY=VALUE, e.g. --set loop_delay=5")
    }

    @Test("a bad --set value names the override")
    func badOverrideValue() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load("[walmgr]\n", overrides: ["backup_datadir=perhaps"])
        }
        #expect(error?.description.hasPrefix("wal-master.ini (--set): backup_datadir") == true)
        #expect(error?.exitCode == 1)
    }

    @Test("a missing [walmgr] section names the file")
    func missingSection() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigFixture.load("[walmgr3]\nmaster_data = /pg\n")
        }
        #expect(error == .missingSection(file: "wal-master.ini", section: "walmgr"))
        #expect(error?.description.hasPrefix("wal-master.ini has no [walmgr] section") == true)
    }

    @Test("unknown keys warn with file:line; helper variables and [DEFAULT] keys do not")
    func unknownKeys() throws {
        let text = """
            [DEFAULT]
            anything = 1
            [walmgr]
            master_data = %(root)s/main
            root = /pg
            foo = bar
            slave_data = /wrong/role
            use_skylog = 1
            """
        let loaded = try ConfigFixture.load(text, overrides: ["typo_key=1"])
        #expect(
            loaded.warnings == [
                "wal-master.ini (--set): unknown key \"typo_key\" ignored",
                "wal-master.ini:6: unknown key \"foo\" ignored",
                "wal-master.ini:7: key \"slave_data\" is for slave configs; ignored in a "
                    + "master config",
            ])
    }

    @Test("a missing file names its absolute path")
    func missingFile() {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.load(path: "/nonexistent/dir/wal.ini", overrides: [])
        }
        #expect(error == .fileNotFound(path: "/nonexistent/dir/wal.ini"))
        #expect(error?.description.contains("/nonexistent/dir/wal.ini does not exist") == true)
    }

    @Test("a relative path becomes absolute; job_name comes from the file name")
    func relativePath() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[walmgr]\nslave_data = /d\n".write(
            toFile: dir + "/standby-a.ini", atomically: true, encoding: .utf8)
        // Relative to the current directory, without changing it (tests run in parallel).
        let depth = FileManager.default.currentDirectoryPath.split(separator: "/").count
        let up = String(repeating: "../", count: depth)
        let relative = "./" + up + dir.dropFirst() + "/sub/../standby-a.ini"
        let loaded = try ConfigLoader.load(path: relative, overrides: [])
        #expect(loaded.config.common.configFile == dir + "/standby-a.ini")
        #expect(loaded.config.common.configFile.hasSuffix("/standby-a.ini"))
        #expect(loaded.config.common.configFile.hasPrefix("/"))
        #expect(!loaded.config.common.configFile.contains(".."))
        #expect(loaded.config.common.jobName == "standby-a")
    }

    @Test("an unreadable file names path, owner, mode and user", .enabled(if: geteuid() != 0))
    func unreadableFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secret.ini"
        try "[walmgr]\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o200], ofItemAtPath: path)
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.load(path: path, overrides: [])
        }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("cannot read config file \(path): "))
        #expect(message.contains("mode 0200"))
        #expect(message.contains("owner "))
        #expect(message.contains("walmgr runs as "))
    }

    @Test("a directory is not a config file")
    func directory() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.load(path: dir, overrides: [])
        }
        #expect(error?.description.contains("it is a directory") == true)
    }

    @Test("a config file over 1 MiB is refused by name and size; exactly 1 MiB loads")
    func sizeCap() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let head = "[walmgr]\nslave_data = /x\nwalmgr_data = /y\n#"
        let path = "\(dir)/wal-slave.ini"
        let exact = head + String(repeating: "x", count: (1 << 20) - head.utf8.count)
        try exact.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: path, overrides: []).config.role == .slave)
        try (exact + "x").write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.load(path: path, overrides: [])
        }
        #expect(error == .fileTooLarge(path: path, size: "1048577 bytes"))
        #expect(error?.description.contains("\(path): it is 1048577 bytes, more than") == true)
    }

    private static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("walmgr-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
