import Testing

@testable import WalCore

@Suite struct TransportTests {
    @Test(arguments: [
        ("/var/lib/walmgr/logs.complete", nil as String?, "/var/lib/walmgr/logs.complete"),
        ("standby:/var/lib/walmgr", "standby", "/var/lib/walmgr"),
        ("postgres@10.0.0.2:/srv/wal", "postgres@10.0.0.2", "/srv/wal"),
        ("localhost:/srv/wal", nil, "/srv/wal"),
        ("/odd/pa:th", nil, "/odd/pa:th"),
        ("[::1]:/srv/wal", "::1", "/srv/wal"),
        ("postgres@[fe80::1%eth0]:/srv/wal", "postgres@fe80::1%eth0", "/srv/wal"),
    ])
    func parsesLocations(text: String, host: String?, path: String) {
        let location = Location(text)
        #expect(location.host == host)
        #expect(location.path == path)
        #expect(host == nil || location.description == text)
    }

    @Test func sshKeepsHostKeyCheckingAndQuotesEveryRemoteWord() {
        let ssh = SSH(host: "standby", options: ["-p", "2222"], controlDir: "/run/walmgr")
        let command = ssh.command([
            "/opt/wal mgr/walmgr", "/etc/wal slave.ini", "xreceive", "$(id);`x`'",
        ])
        #expect(command.executable == "ssh")
        #expect(command.arguments.contains("StrictHostKeyChecking=yes"))
        #expect(command.arguments.contains("BatchMode=yes"))
        #expect(command.arguments.contains("ControlPath=/run/walmgr/%C"))
        #expect(!command.arguments.contains { $0.contains("StrictHostKeyChecking=no") })
        let remote = Array(command.arguments.drop { $0 != "--" })
        #expect(
            remote == [
                "--", "standby", "'/opt/wal mgr/walmgr'", "'/etc/wal slave.ini'", "xreceive",
                "'$(id);`x`'\\'''",
            ])
        #expect(command.arguments.filter { $0 == "--" }.count == 1)
    }

    @Test func noControlSocketWhenReuseIsOff() {
        let ssh = SSH(host: "h", options: [], controlDir: nil, compress: true)
        #expect(!ssh.baseArguments.contains { $0.hasPrefix("ControlPath") })
        #expect(ssh.baseArguments.contains("-C"))
    }

    @Test func hostKeyChangeAdviceSaysHowToAcceptTheNewKey() {
        let error = TransportError.ssh(
            host: "standby",
            stderr:
                "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed."
        )
        #expect(error.description.contains("ssh-keygen -R standby"))
        #expect(error.description.contains("never disables host key checking"))
    }

    @Test func remoteFailuresThatMeanAnotherWalmgrSayHowToFixIt() {
        func text(_ status: String) -> String {
            TransportError.remote(
                host: "standby", command: "xwalcheck A B", status: status, stderr: "boom"
            ).description
        }
        #expect(text("exit 127").contains("install walmgr \(Walmgr.version) on standby"))
        #expect(text("exit 126").contains("chmod 0755"))
        #expect(text("exit 64").contains("different walmgr versions"))
        #expect(text("exit 1") == "walmgr on standby failed (exit 1) running xwalcheck A B: boom")
        // The master keeps the slave's last 20 lines of stderr: the error is the last one.
        let tail = SubprocessRunner.stderrTail(Array(CommandCatalog.unknown("xnew").utf8))
        #expect(TransportError.lastLine(tail).hasPrefix("walmgr: unknown command \"xnew\""))
    }

    @Test func commandArgumentSplitting() throws {
        let spec = try #require(CommandCatalog.spec("listbackups"))
        let (positional, flags) = try Walmgr.split(["--json"], for: spec)
        #expect(positional.isEmpty && flags == ["--json"])
        #expect(throws: WalmgrFailure.self) { try Walmgr.split(["--bogus"], for: spec) }
        let xarchive = try #require(CommandCatalog.spec("xarchive"))
        #expect(throws: WalmgrFailure.self) { try Walmgr.split(["only-one"], for: xarchive) }
    }
}
