import Foundation
import Testing

@testable import WalCore

/// Issue 14.1 and 14.11: where the master's directory keys live, and how the slave's name
/// resolves for the pg_hba check.
@Suite struct SlaveRoutingTests {
    static let keys =
        "walmgr_data = /var/lib/postgresql/walshipping\n"
        + "completed_wals = %(walmgr_data)s/logs.complete\n"
        + "full_backup = %(walmgr_data)s/data.master\n"

    /// What `--init-master` writes: plain paths with a remote slave mean the slave's disk.
    @Test func plainPathsWithARemoteSlaveAreOnTheSlave() throws {
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = standby\n" + Self.keys)
        #expect(
            config.location(of: config.common.fullBackup)
                == .remote(host: "standby", path: "/var/lib/postgresql/walshipping/data.master"))
        #expect(
            config.location(of: config.common.configBackup)
                == .remote(host: "standby", path: "/var/lib/postgresql/walshipping/config.backup"))
        #expect(config.misroutedDirectoryKeys.isEmpty)
    }

    /// walmgr3's `%(slave)s:%(walmgr_data)s/…` means the same place as the plain path.
    @Test func walmgr3HostPrefixMeansTheSame() throws {
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = standby\nwalmgr_data = /w\n"
                + "completed_wals = %(slave)s:%(walmgr_data)s/logs.complete\n")
        #expect(
            config.location(of: config.common.completedWals)
                == .remote(host: "standby", path: "/w/logs.complete"))
        #expect(config.location(of: config.common.partialWals).host == "standby")
        #expect(config.misroutedDirectoryKeys.isEmpty)
    }

    /// A local slave keeps local paths local; a `host:` key without `slave` names the host.
    @Test func localSlaveAndHostOnlyInTheKeys() throws {
        let local = try ConfigFixture.master("[walmgr]\nmaster_data = /m\n" + Self.keys)
        #expect(local.location(of: local.common.fullBackup).host == nil)
        let hostInKeys = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nwalmgr_data = s1:/w\n")
        #expect(hostInKeys.slaveDirectoryHost == "s1")
        #expect(hostInKeys.location(of: hostInKeys.common.fullBackup).host == "s1")
    }

    /// With the archive and the backups both in S3 no key names a host: "s3" of `s3://` is
    /// not one (it was taken for the slave's host, and ssh then went to a host named s3).
    @Test func archiveAndBackupsInS3NameNoHost() throws {
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nwalmgr_data = /w\ncompleted_wals = s3://bkt/wal\n"
                + "full_backup = s3://bkt/backups\n")
        #expect(config.slaveDirectoryHost == nil)
        #expect(config.location(of: config.common.configBackup) == .local("/w/config.backup"))
        let remote = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\ncompleted_wals = s3://bkt/wal\n"
                + "full_backup = standby:/w/data.master\n")
        #expect(remote.slaveDirectoryHost == "standby")
    }

    /// A key on another host than `slave` is named by `check`.
    @Test func mixedConfigIsNamed() throws {
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = standby\nwalmgr_data = /w\n"
                + "full_backup = other:/w/data.master\n")
        #expect(config.misroutedDirectoryKeys.map(\.key) == ["full_backup"])
        let local = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = localhost\nwalmgr_data = /w\n"
                + "completed_wals = standby:/w/logs.complete\n")
        #expect(local.misroutedDirectoryKeys.map(\.key) == ["completed_wals"])
    }

    /// walmgr3's `slave = host:/path`: the host is used, the path reaches the keys.
    @Test func walmgr3SlaveWithPath() throws {
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = standby:/var/walshipping\n"
                + "completed_wals = %(slave)s/logs.complete\n")
        #expect(config.slave == "standby")
        #expect(
            config.location(of: config.common.completedWals)
                == .remote(host: "standby", path: "/var/walshipping/logs.complete"))
        #expect(config.misroutedDirectoryKeys.isEmpty)
        #expect(MasterConfig.slaveHost("[::1]") == "[::1]")
        #expect(MasterConfig.slaveHost("user@db2") == "user@db2")
    }

    /// A host known only from an ssh config resolves through `ssh -G`.
    @Test func sshConfigAliasResolves() async throws {
        let dir = try TestEnv.scratchDir(prefix: "wmr")
        defer { TestEnv.removeScratch(dir) }
        try "Host standby-alias\n  HostName 10.213.0.9\n".write(
            toFile: "\(dir)/ssh_config", atomically: true, encoding: .utf8)
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = standby-alias\n"
                + "ssh_options = -F \(dir)/ssh_config\n")
        let client = try await HBAProbe.expectedClient(config, runner: TestEnv.patientRunner)
        #expect(client?.address == "10.213.0.9")
        #expect(HostResolve.parseHostName("user postgres\nhostname db9\nport 22\n") == "db9")
    }

    /// A name nothing resolves is an ``UnresolvedHost`` (setup warns and goes on).
    @Test func unresolvableNameIsItsOwnError() async throws {
        let config = try ConfigFixture.master(
            "[walmgr]\nmaster_data = /m\nslave = no-such-host.invalid\nssh_options = -F /dev/null\n"
        )
        await #expect(throws: UnresolvedHost.self) {
            try await HBAProbe.expectedClient(config, runner: TestEnv.patientRunner)
        }
    }

    /// `setup` with a slave name nothing resolves: a warning, and setup goes on to the slave
    /// step (which then fails on ssh), instead of stopping at the pg_hba check.
    @Test(.enabled(if: TestEnv.defaultBinDir != nil))
    func setupWarnsOnAnUnresolvableSlave() async throws {
        let pair = try await WalmgrPair(
            binDir: try #require(TestEnv.defaultBinDir),
            masterExtra: "slave = no-such-host.invalid\nssh_options = -F /dev/null\n")
        defer { pair.destroy() }
        try await pair.master.start()
        let setup = try await pair.run([pair.masterIni, "setup"])
        #expect(
            setup.stderrTail.contains("cannot resolve no-such-host.invalid"), "\(setup.stderrTail)")
        #expect(setup.stderrTail.contains("skipping the pg_hba check"), "\(setup.stderrTail)")
        #expect(setup.stderrTail.contains("ssh to no-such-host.invalid"), "\(setup.stderrTail)")
    }
}
