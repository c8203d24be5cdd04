import Testing

@testable import WalCore

/// The synchronous_standby_names parser follows PostgreSQL's grammar.
@Suite struct StreamingSyncNamesTests {
    typealias Names = SyncStandbyNames

    @Test func firstAndAny() throws {
        #expect(
            try Names.parse("FIRST 1 (s1)") == Names(method: .priority, count: 1, names: ["s1"]))
        #expect(
            try Names.parse("first 2 (s1, s2,s3)")
                == Names(method: .priority, count: 2, names: ["s1", "s2", "s3"]))
        #expect(
            try Names.parse("ANY 2 (a, b, c)")
                == Names(method: .quorum, count: 2, names: ["a", "b", "c"]))
        #expect(
            try Names.parse("  any 1(\"x y\")") == Names(method: .quorum, count: 1, names: ["x y"]))
    }

    @Test func legacyForms() throws {
        #expect(try Names.parse("s1") == Names(method: .priority, count: 1, names: ["s1"]))
        #expect(
            try Names.parse("s1, s2") == Names(method: .priority, count: 1, names: ["s1", "s2"]))
        #expect(
            try Names.parse("2 (s1, s2)")
                == Names(method: .priority, count: 2, names: ["s1", "s2"]))
        #expect(try Names.parse("*") == Names(method: .priority, count: 1, names: ["*"]))
        #expect(try Names.parse("*")?.hasWildcard == true)
        // A number alone (or in a list) is a standby name, as in PostgreSQL.
        #expect(try Names.parse("1, 2") == Names(method: .priority, count: 1, names: ["1", "2"]))
        #expect(try Names.parse("first_standby")?.names == ["first_standby"])
        #expect(try Names.parse("anything$1")?.names == ["anything$1"])
    }

    @Test func quotedNames() throws {
        #expect(try Names.parse("\"FIRST\"")?.names == ["FIRST"])
        #expect(try Names.parse("\"a\"\"b\", c")?.names == ["a\"b", "c"])
        #expect(try Names.parse("FIRST 1 (\"*\")")?.names == ["*"])
    }

    @Test func emptyDisables() throws {
        #expect(try Names.parse("") == nil)
        #expect(try Names.parse("   ") == nil)
    }

    @Test(arguments: [
        "FIRST (s1)", "FIRST 1 s1", "FIRST 1 (s1", "ANY 0 (a)", "0 (a)", "a b", "a,", ",a",
        "(a)", "a; drop", "\"\"", "\"open", "FIRST 1 ()", "FIRST",
    ])
    func rejects(_ text: String) {
        #expect(throws: SyncStandbyNamesError.self) { try Names.parse(text) }
    }

    @Test func errorSaysWhatWasExpected() {
        do {
            _ = try Names.parse("FIRST 1 (s1")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("expected \")\""), "\(error)")
            #expect(error.exitCode == 64)
        }
    }

    @Test func matchingIsCaseInsensitive() {
        #expect(Names.matches("S1", applicationName: "s1"))
        #expect(Names.matches("*", applicationName: "anything"))
        #expect(!Names.matches("s1", applicationName: "s10"))
    }
}
