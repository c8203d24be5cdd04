import Testing

@testable import WalCore

@Suite struct WALNameTests {
    @Test(arguments: [
        ("000000010000000000000001", WALName.Kind.segment),
        ("0000000100000000000000FF.partial", .partial),
        ("000000010000000000000002.00000028.backup", .backup),
        ("00000002.history", .history),
    ])
    func acceptsPostgresNames(name: String, kind: WALName.Kind) throws {
        let wal = try #require(WALName(name))
        #expect(wal.kind == kind)
    }

    @Test(arguments: [
        "", "../x", "a/b", "000000010000000000000001;touch /tmp/pwned", "$(id)",
        String(repeating: "0", count: 65), "00000001000000000000000g", "000000010000000000000001 ",
        "00000001000000000000000a", "000000010000000000000001.partial.x", "0000000X.history",
        "000000010000000000000001\n", "`id`", "000000010000000000000001.backup",
        "/000000010000000000000001",
    ])
    func refusesEverythingElse(name: String) {
        #expect(WALName(name) == nil)
        #expect(throws: WALNameError.self) { try WALName.validate(name) }
    }

    @Test func errorNamesTheFileAndSaysNothingWasWritten() {
        let message = WALNameError(name: "../etc\npasswd").description
        #expect(message.contains("../etc?passwd"))
        #expect(message.contains("nothing was read or written"))
    }

    @Test func timelineAndSegment() throws {
        let wal = try #require(WALName("0000000A0000000100000002.partial"))
        #expect(wal.timeline == 10)
        #expect(wal.segment == "0000000A0000000100000002")
    }
}
