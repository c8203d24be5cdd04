import Testing

@testable import WalCore

/// pg_hba first-match evaluation for replication, and the pure pg_hba.conf insert.
@Suite struct StreamingHBATests {
    static let local = HBARule(
        lineNumber: 1, type: "local", databases: ["all"], users: ["all"], method: "trust")
    static let hostAll = HBARule(
        lineNumber: 2, type: "host", databases: ["all"], users: ["all"], address: "127.0.0.1",
        netmask: "255.255.255.255", method: "trust")
    let client = HBAClient(address: "127.0.0.1", user: "postgres")

    func rule(
        _ line: Int, _ type: String = "host", db: [String] = ["replication"],
        users: [String] = ["all"], address: String? = "10.0.0.0", netmask: String? = "255.0.0.0",
        method: String = "scram-sha-256"
    ) -> HBARule {
        HBARule(
            lineNumber: line, type: type, databases: db, users: users, address: address,
            netmask: netmask, method: method)
    }

    @Test func allDoesNotCoverReplication() {
        #expect(HBAMatcher.verdict([Self.local, Self.hostAll], client: client) == .noMatch)
        #expect(HBAMatcher.ordinaryMethod([Self.local, Self.hostAll], client: client) == "trust")
    }

    @Test func cidrMatching() {
        let net = rule(3)
        let tenTwo = HBAClient(address: "10.0.0.2", user: "rep")
        #expect(HBAMatcher.verdict([net], client: tenTwo) == .allowed(net))
        #expect(
            HBAMatcher.verdict([net], client: HBAClient(address: "11.0.0.2", user: "r")) == .noMatch
        )
        let v6 = rule(4, address: "::1", netmask: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        #expect(
            HBAMatcher.verdict([v6], client: HBAClient(address: "::1", user: "r")) == .allowed(v6))
        #expect(HBAMatcher.verdict([v6], client: tenTwo) == .noMatch)
    }

    @Test func firstMatchWins() {
        let reject = rule(3, users: ["rep"], method: "reject")
        let allow = rule(4)
        let tenTwo = HBAClient(address: "10.0.0.2", user: "rep")
        #expect(HBAMatcher.verdict([reject, allow], client: tenTwo) == .rejected(reject))
        let other = HBAClient(address: "10.0.0.2", user: "bob")
        #expect(HBAMatcher.verdict([reject, allow], client: other) == .allowed(allow))
    }

    @Test func brokenLinesAreNotInEffect() {
        var broken = rule(3)
        broken.error = "invalid authentication method"
        #expect(
            HBAMatcher.verdict([broken], client: HBAClient(address: "10.0.0.2", user: "r"))
                == .noMatch)
    }

    @Test func localAndSameHost() {
        let localRep = rule(5, "local", address: nil, netmask: nil, method: "peer")
        let socket = HBAClient(address: nil, user: "postgres")
        #expect(HBAMatcher.verdict([localRep], client: socket) == .allowed(localRep))
        #expect(HBAMatcher.verdict([localRep], client: client) == .noMatch)
        let same = rule(6, address: "samehost", netmask: nil)
        #expect(HBAMatcher.verdict([same], client: client) == .allowed(same))
        let remote = HBAClient(address: "192.0.2.7", user: "r")
        guard case .undecided(_, let reason) = HBAMatcher.verdict([same], client: remote) else {
            Issue.record("samehost for a remote address should be undecided")
            return
        }
        #expect(reason.contains("samehost"))
    }

    @Test func hostNamesGroupsAndRegexAreUndecided() {
        let named = rule(7, address: "standby.example.com", netmask: nil)
        if case .undecided(let r, let reason) = HBAMatcher.verdict([named], client: client) {
            #expect(r == named && reason.contains("standby.example.com"))
        } else {
            Issue.record("host name rule should be undecided")
        }
        let group = rule(
            8, users: ["+replicators"], address: "127.0.0.1", netmask: "255.255.255.255")
        #expect(
            HBAMatcher.verdict([group], client: client, isMember: { _, _ in true })
                == .allowed(group))
        #expect(
            HBAMatcher.verdict([group], client: client, isMember: { _, _ in false }) == .noMatch)
        let regex = rule(9, users: ["/^rep"], address: "127.0.0.1", netmask: "255.255.255.255")
        if case .undecided = HBAMatcher.verdict([regex], client: client) {
        } else {
            Issue.record("regex user should be undecided")
        }
    }

    @Test func lineRendering() {
        let line = HBAFile.replicationLine(client: client, method: "trust")
        #expect(
            HBAFile.fields(line) == ["host", "replication", "postgres", "127.0.0.1/32", "trust"])
        let odd = HBAClient(address: "::1", user: "Rep User")
        #expect(
            HBAFile.fields(HBAFile.replicationLine(client: odd, method: "md5"))
                == ["host", "replication", "\"Rep User\"", "::1/128", "md5"])
        let socket = HBAFile.replicationLine(
            client: HBAClient(address: nil, user: "all"), method: "peer")
        #expect(HBAFile.fields(socket) == ["local", "replication", "\"all\"", "peer"])
    }

    @Test func insertBeforeFirstRuleOnce() throws {
        let text =
            "# comment\n\n# TYPE DATABASE USER ADDRESS METHOD\nlocal all all trust\n"
            + "host all all 127.0.0.1/32 trust   # loopback\n"
        let line = HBAFile.replicationLine(client: client, method: "trust")
        let edited = try #require(HBAFile.inserting(line, into: text))
        let lines = edited.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0...2] == ["# comment", "", "# TYPE DATABASE USER ADDRESS METHOD"])
        #expect(lines[3] == HBAFile.marker && lines[4] == line)
        #expect(
            lines[5...] == [
                "local all all trust", "host all all 127.0.0.1/32 trust   # loopback", "",
            ])
        #expect(HBAFile.inserting(line, into: edited) == nil)
        #expect(
            HBAFile.inserting("host  replication postgres 127.0.0.1/32\ttrust", into: edited) == nil
        )
    }

    @Test func insertIntoFileWithoutRules() throws {
        let edited = try #require(HBAFile.inserting("local replication all peer", into: "# only\n"))
        #expect(edited == "# only\n\(HBAFile.marker)\nlocal replication all peer\n")
    }
}
