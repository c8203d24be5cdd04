import Foundation
import Testing

@testable import WalCore

/// restore and check use pg_ctl of the backup's major version: slave_bin when it matches,
/// else the first matching dir of the search; another major is refused before anything moves.
@Suite(.serialized) struct StandbyBinTests {
    static let both =
        TestEnv.pgBinDirs.contains(TestEnv.pg15BinDir)
        && TestEnv.pgBinDirs.contains(TestEnv.pg18BinDir)

    /// An 18 backup: slave_bin = 15 is refused naming both versions (PATH's 15 once ran on an
    /// 18 backup); without slave_bin, PATH with only 15's pg_ctl is refused too; a pg_config in
    /// PATH that names 18's bin dir is found and the standby runs on 18.
    @Test(.enabled(if: both)) func restoreUsesTheBackupsMajor() async throws {
        let lab = try await StandbyLab(binDir: TestEnv.pg18BinDir, streaming: true)
        defer { lab.destroy() }
        try await lab.makeBackup()
        let manifest = "\(lab.fullBackup)/\(BackupManifest.fileName)"
        let ini = try String(contentsOfFile: lab.slaveIni, encoding: .utf8)
        let with15 = ini.replacingOccurrences(
            of: "slave_bin = \(TestEnv.pg18BinDir)", with: "slave_bin = \(TestEnv.pg15BinDir)")
        try #require(with15 != ini)
        try TestEnv.writeOwned(lab.slaveIni, with15)

        let configured = try await restore(lab, path: nil)
        #expect(configured.status == 1)
        #expect(configured.stderrTail.contains("is PostgreSQL 18"), "\(configured.stderrTail)")
        #expect(configured.stderrTail.contains("PostgreSQL 15."), "\(configured.stderrTail)")
        let check = try await lab.walmgr(["check"])
        #expect(check.output.contains("is PostgreSQL 18, but found only"), "\(check.output)")
        try expectNothingMoved(lab, manifest: manifest)

        try TestEnv.writeOwned(
            lab.slaveIni,
            ini.replacingOccurrences(of: "slave_bin = \(TestEnv.pg18BinDir)", with: ""))
        let only15 = try binDir(lab, "only15", link: "\(TestEnv.pg15BinDir)/pg_ctl")
        let searched = try await restore(lab, path: "\(only15):/usr/bin:/bin")
        #expect(searched.status == 1)
        #expect(
            searched.stderrTail.contains("\(only15)/pg_ctl is PostgreSQL 15."),
            "\(searched.stderrTail)")
        try expectNothingMoved(lab, manifest: manifest)

        let fake = try binDir(lab, "fakecfg", script: "#!/bin/sh\necho \(TestEnv.pg18BinDir)\n")
        let found = try await restore(lab, path: "\(fake):\(only15):/usr/bin:/bin")
        let standby = lab.attachStandby()
        try #require(found.succeeded, "restore: \(found.stderrTail)")
        #expect(try await standby.psql("SHOW server_version_num").hasPrefix("18"))
    }

    /// `walmgr SLAVE_INI restore` as the server's user, with `path` as PATH when given.
    func restore(_ lab: StandbyLab, path: String?) async throws -> ProcessResult {
        let command = Command(
            lab.walmgr, [lab.slaveIni, "restore"],
            environment: path.map { ["PATH": $0] } ?? [:], workingDirectory: lab.scratch,
            user: TestEnv.runAsUser)
        return try await TestEnv.runner.run(command, input: .none, timeout: .seconds(180))
    }

    /// A dir under the lab's scratch with `pg_ctl` linked to `link`, or a `pg_config` script.
    func binDir(_ lab: StandbyLab, _ name: String, link: String? = nil, script: String? = nil)
        throws -> String
    {
        let dir = "\(lab.scratch)/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try TestEnv.chownToRunAsUser(dir, mode: 0o755)
        if let link {
            try FileManager.default.createSymbolicLink(
                atPath: "\(dir)/pg_ctl", withDestinationPath: link)
        }
        if let script {
            try script.write(toFile: "\(dir)/pg_config", atomically: true, encoding: .utf8)
            chmod("\(dir)/pg_config", 0o755)
        }
        return dir
    }

    /// slave_data was not created, no staging dir exists, and the backup is whole.
    func expectNothingMoved(_ lab: StandbyLab, manifest: String) throws {
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: lab.standbyData))
        #expect(!fm.fileExists(atPath: "\(lab.standbyData).walmgr-restore"))
        #expect(
            fm.fileExists(atPath: manifest) && fm.fileExists(atPath: "\(lab.fullBackup)/PG_VERSION")
        )
    }
}
