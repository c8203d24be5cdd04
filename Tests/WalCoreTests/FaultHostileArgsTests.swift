import Foundation
import Testing

@testable import WalCore

/// Every command that takes a name or path is fed hostile values as raw argv bytes: each run
/// exits non-zero with a message, runs nothing, and creates no file outside walmgr's dirs.
@Suite(.serialized) struct FaultHostileArgsTests {
    static let valid = "000000010000000000000003"

    /// Hostile values; `PWNED` is replaced by a canary path that must never appear.
    static func hostile(canary: String) -> [[UInt8]] {
        let strings = [
            "../x", "../../x", "/etc/passwd", "a\nb", "x; touch \(canary)", "$(touch \(canary))",
            "`touch \(canary)`", "'\"", "\(valid)\n", "-oProxyCommand=touch \(canary)",
            String(repeating: "A", count: 4096), "",
        ]
        return strings.map { Array($0.utf8) } + [[0xFF, 0xFE, 0x2E, 0x2E, 0x2F, 0x78]]
    }

    /// Argument lists for every command with a name or path; `H` marks the hostile slot.
    static let slots: [(ini: String, argv: [String], quietAllowed: Bool)] = [
        ("master", ["xarchive", "H", valid], false),
        ("master", ["xarchive", "SOURCE", "H"], false),
        ("slave", ["xrestore", "H", "pg_wal/RECOVERYXLOG"], false),
        ("slave", ["xrestore", valid, "H"], true),  // not archived: a quiet miss by design
        ("slave", ["xreceive", "H", "0"], false),
        ("slave", ["xreceive", valid, "H"], false),
        ("slave", ["xpartialsync", "H", "0", "0"], false),
        ("slave", ["restore", "H"], false),
        ("slave", ["restore", "H", "H"], false),
        ("slave", ["xlock", "H"], false),
        ("slave", ["xlock", "12345", "H"], false),
        ("slave", ["xrelease", "H"], false),
        ("slave", ["xbackupfile", "H"], false),
        ("slave", ["xwalcheck", "H", valid, "16777216"], false),
        ("slave", ["xwalcheck", valid, valid, "H"], false),
        ("slave", ["xwalcheck", valid, valid, "16777216", "H"], false),
        ("H", ["setup"], false),
        ("--set", ["setup"], false),
        ("--init-master", [], false),
    ]

    @Test func hostileArgumentsAreRefusedAndCreateNothing() async throws {
        let scratch = try TestEnv.scratchDir(prefix: "wmh")
        defer { TestEnv.removeScratch(scratch) }
        let walmgr = try TestEnv.walmgrBinary(in: scratch)
        let canary = "/tmp/wm-pwned-\(UInt32.random(in: 0...UInt32.max))"
        let (masterIni, slaveIni, walmgrData) = try writeConfigs(scratch)
        let cwd = "\(scratch)/cwd/deeper"
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser("\(scratch)/cwd", mode: 0o777)
        try TestEnv.chownToRunAsUser(cwd, mode: 0o777)
        let before = tree(scratch, skipping: walmgrData)
        var runs = 0
        for slot in Self.slots {
            for value in Self.hostile(canary: canary) {
                let argv = argv(
                    for: slot, value: value, master: masterIni, slave: slaveIni, scratch: scratch)
                let result = try RawSpawn.run([Array(walmgr.utf8)] + argv, cwd: cwd)
                let shown = String(decoding: Array(argv.joined(separator: [0x20])), as: UTF8.self)
                #expect(result.status != 0, "exit 0 for \(shown.prefix(200))")
                if !slot.quietAllowed {
                    #expect(!result.stderr.isEmpty, "no message for \(shown.prefix(200))")
                }
                #expect(result.status < 126, "\(shown.prefix(200)): status \(result.status)")
                runs += 1
            }
        }
        print("hostile arguments: \(runs) runs refused")
        #expect(!FileManager.default.fileExists(atPath: canary), "a hostile value was executed")
        try? FileManager.default.removeItem(atPath: canary)
        let after = tree(scratch, skipping: walmgrData)
        #expect(after.subtracting(before).isEmpty, "files created: \(after.subtracting(before))")
    }

    func argv(
        for slot: (ini: String, argv: [String], quietAllowed: Bool), value: [UInt8],
        master: String, slave: String, scratch: String
    ) -> [[UInt8]] {
        let words = slot.argv.map { word -> [UInt8] in
            switch word {
            case "H": value
            case "SOURCE": Array("\(scratch)/segment".utf8)
            default: Array(word.utf8)
            }
        }
        switch slot.ini {
        case "master": return [Array(master.utf8)] + words
        case "slave": return [Array(slave.utf8)] + words
        case "H": return [value] + words
        case "--set": return [Array("--set".utf8), value, Array(slave.utf8)] + words
        default:
            return [
                Array("--init-master".utf8), Array("--slave".utf8), value,
                Array("--config-dir".utf8), Array("\(scratch)/cwd/conf".utf8),
                Array("--pgdata".utf8), Array("\(scratch)/cwd/pgdata".utf8),
            ]
        }
    }

    func writeConfigs(_ scratch: String) throws -> (String, String, String) {
        let data = "\(scratch)/walshipping"
        for dir in ["", "/logs.complete", "/logs.partial", "/data.master"] {
            try FileManager.default.createDirectory(
                atPath: data + dir, withIntermediateDirectories: true)
            try TestEnv.chownToRunAsUser(data + dir, mode: 0o700)
        }
        let segment = "\(scratch)/segment"
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: segment))
        try TestEnv.chownToRunAsUser(segment, mode: 0o644)
        let master = "\(scratch)/wal-master.ini"
        let slave = "\(scratch)/wal-slave.ini"
        try """
        [walmgr]
        master_data = \(scratch)/nodata
        walmgr_data = \(data)
        slave_config = \(slave)
        logfile = \(data)/master.log
        """.write(toFile: master, atomically: true, encoding: .utf8)
        try """
        [walmgr]
        slave_data = \(scratch)/standby
        walmgr_data = \(data)
        logfile = \(data)/slave.log
        """.write(toFile: slave, atomically: true, encoding: .utf8)
        for path in [master, slave] { try TestEnv.chownToRunAsUser(path, mode: 0o644) }
        return (master, slave, data)
    }

    /// Every path under `root` except those under `skipping`.
    func tree(_ root: String, skipping: String) -> Set<String> {
        var paths: Set<String> = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let full = "\(root)/\(relative)"
            if !full.hasPrefix(skipping) { paths.insert(full) }
        }
        return paths
    }
}
