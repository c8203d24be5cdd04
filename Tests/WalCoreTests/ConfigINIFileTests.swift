import Testing
import WalCore

@Suite("INIFile parsing")
struct ConfigINIFileTests {
    private func parse(_ text: String) throws(ConfigError) -> INIFile {
        try INIFile.parse(text, fileName: "wal-master.ini")
    }

    @Test("key = value and key: value, keys lowercased, lines kept")
    func basicEntries() throws {
        let ini = try parse("[walmgr]\nMaster_Data = /pg\nslave: standby\n")
        let section = try #require(ini.section("walmgr"))
        #expect(section["master_data"] == INIEntry(value: "/pg", line: 2))
        #expect(section["slave"] == INIEntry(value: "standby", line: 3))
        #expect(ini.sectionNames == ["walmgr"])
    }

    @Test("[DEFAULT] values are visible in every section and can be overridden")
    func defaultInheritance() throws {
        let ini = try parse("[DEFAULT]\nbase = /srv\nx = d\n[walmgr]\nx = own\n[other]\n")
        #expect(ini.section("walmgr")?["base"]?.value == "/srv")
        #expect(ini.section("walmgr")?["x"]?.value == "own")
        #expect(ini.section("other")?["x"]?.value == "d")
        #expect(ini.entries(in: "walmgr")?["base"] == nil)
        #expect(ini.section("missing") == nil)
    }

    @Test("full-line comments with # and ;, blank lines, CRLF")
    func comments() throws {
        let text = "# top\r\n; also\r\n[walmgr]\r\n\r\n  # indented comment\r\na = 1\r\n"
        let ini = try parse(text)
        #expect(ini.section("walmgr") == ["a": INIEntry(value: "1", line: 6)])
    }

    @Test(
        "inline ; needs whitespace before it; # stays in the value",
        arguments: [
            ("a = x ; note", "x"),
            ("a = x\t; note", "x"),
            ("a = x;y", "x;y"),
            ("a = x # not a comment", "x # not a comment"),
            ("a = #hash", "#hash"),
            ("a = \"\"", ""),
            ("a =", ""),
            ("a = b = c", "b = c"),
            ("a = host=/tmp port=5432", "host=/tmp port=5432"),
        ])
    func inlineComments(line: String, expected: String) throws {
        let ini = try parse("[walmgr]\n\(line)\n")
        #expect(ini.section("walmgr")?["a"]?.value == expected)
    }

    @Test("indented lines continue the previous value; the key keeps its first line")
    func continuation() throws {
        let ini = try parse("[walmgr]\ncmd = first\n    second\n\n\tthird ; c\nnext = 1\n")
        let section = try #require(ini.section("walmgr"))
        #expect(section["cmd"] == INIEntry(value: "first\nsecond\nthird", line: 2))
        #expect(section["next"]?.line == 6)
    }

    @Test("section header may carry a comment; a repeated section merges, later key wins")
    func headers() throws {
        let ini = try parse("[walmgr] ; main\na = 1\n[x]\n[walmgr]\na = 2\nb = 3\n")
        #expect(ini.section("walmgr")?["a"] == INIEntry(value: "2", line: 5))
        #expect(ini.section("walmgr")?["b"]?.value == "3")
        #expect(ini.sectionNames == ["walmgr", "x"])
    }

    @Test(
        "malformed lines name file and line",
        arguments: [
            ("[walmgr]\nfoo bar\n", 2, "foo bar"),
            ("[walmgr]\na = 1\n= value\n", 3, "= value"),
            ("[walmgr]\nmy key = 1\n", 2, "my key = 1"),
            ("[walmgr\n", 1, "[walmgr"),
            ("[]\n", 1, "[]"),
            ("[walmgr] trailing\n", 1, "[walmgr] trailing"),
            ("[walmgr]\n  indented = first\n", 2, "indented = first"),
        ])
    func malformed(text: String, line: Int, found: String) {
        let error = #expect(throws: ConfigError.self) { try parse(text) }
        #expect(error == .malformedLine(file: "wal-master.ini", line: line, text: found))
        let message = error?.description ?? ""
        #expect(message.hasPrefix("wal-master.ini:\(line): expected \"key = value\""))
        #expect(message.contains("found \"\(found)\""))
    }

    @Test("a key before any section is an error naming file:line")
    func keyOutsideSection() {
        let error = #expect(throws: ConfigError.self) { try parse("# c\n\nslave = x\n") }
        #expect(error == .keyOutsideSection(file: "wal-master.ini", line: 3, text: "slave = x"))
        #expect(error?.description.contains("wal-master.ini:3:") == true)
        #expect(error?.description.contains("put it under [walmgr]") == true)
    }

    @Test("a malformed line quoting a password masks it")
    func masksPassword() {
        let error = #expect(throws: ConfigError.self) {
            try parse("[walmgr]\nprimary conninfo password=s3cret host=x\n")
        }
        let message = error?.description ?? ""
        #expect(!message.contains("s3cret"))
        #expect(message.contains("password=***"))
    }
}
