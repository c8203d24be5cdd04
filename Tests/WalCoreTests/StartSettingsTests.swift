import Foundation
import Testing

@testable import WalCore

@Suite("Standby start settings after restore")
struct StartSettingsTests {
    private func server(startCmd: [String]? = nil) -> StandbyServer {
        let common = CommonConfig(
            configFile: "/tmp/wal-slave.ini", jobName: "t", walmgrData: "/tmp/w")
        let config = SlaveConfig(common: common, slaveData: "/srv/pg", slaveStartCmd: startCmd)
        return StandbyServer(
            config, runner: SubprocessRunner(), log: Log(quiet: true),
            bin: PGBin("/usr/lib/postgresql/15/bin"))
    }

    @Test("12 and 13 get no setting (it does not exist there); 14+ start with syncfs")
    func perVersion() {
        for num in [120000, 130000] {
            #expect(StartSettings.afterRestore(ServerVersion(num: num)).isEmpty)
        }
        for num in [140000, 150000, 180000] {
            #expect(
                StartSettings.afterRestore(ServerVersion(num: num))
                    == ["recovery_init_sync_method=syncfs"])
        }
    }

    @Test("pg_ctl's argv carries the settings as -o \"-c name=value\" before start")
    func pgCtlArgv() throws {
        let plain = try server().startCommand()
        #expect(
            plain.arguments == [
                "-D", "/srv/pg", "-l", "/srv/pg/log/walmgr-start.log", "-w", "-t", "60", "start",
            ])
        for (num, options) in [
            (130000, [String]()), (150000, ["-o", "-c recovery_init_sync_method=syncfs"]),
        ] {
            let command = try server().startCommand(
                settings: StartSettings.afterRestore(ServerVersion(num: num)))
            #expect(command.executable == "/usr/lib/postgresql/15/bin/pg_ctl")
            #expect(
                command.arguments
                    == ["-D", "/srv/pg", "-l", "/srv/pg/log/walmgr-start.log", "-w", "-t", "60"]
                    + options + ["start"])
        }
    }

    @Test("slave_start_cmd is the user's own command and runs unchanged")
    func ownStartCommand() throws {
        let command = try server(startCmd: ["pg_ctlcluster", "15", "main", "start"])
            .startCommand(settings: ["recovery_init_sync_method=syncfs"])
        #expect(command.executable == "pg_ctlcluster")
        #expect(command.arguments == ["15", "main", "start"])
    }

    @Test("readiness polls start at 20 ms and back off to 100 ms")
    func pollDelays() {
        var delays = PollDelays()
        let first = (0..<6).map { _ in delays.next() }
        #expect(first == [20, 40, 80, 100, 100, 100].map { Duration.milliseconds($0) })
    }
}
