import Testing
import WalCore

@Suite("ShellWords")
struct ShellWordsTests {
    @Test(
        "split follows sh quoting without expansion",
        arguments: [
            ("pg_ctlcluster 16 main restart", ["pg_ctlcluster", "16", "main", "restart"]),
            ("  a\t b\n c  ", ["a", "b", "c"]),
            ("'a b' c", ["a b", "c"]),
            (#""a b" c"#, ["a b", "c"]),
            (#"a\ b"#, ["a b"]),
            (#""\$HOME \"x\" \\ \` \n""#, [#"$HOME "x" \ ` \n"#]),
            ("'it'\\''s'", ["it's"]),
            ("\"\" ''", ["", ""]),
            ("a'b'\"c\"d", ["abcd"]),
            (
                "echo $(rm -rf /); `id` a;b | c && d # e",
                [
                    "echo", "$(rm", "-rf", "/);", "`id`", "a;b", "|", "c", "&&", "d", "#", "e",
                ]
            ),
            ("line\\\ncontinued", ["linecontinued"]),
            ("'multi\nline'", ["multi\nline"]),
            ("", []),
            ("   ", []),
            ("-p 2222 -o UserKnownHostsFile=/kh", ["-p", "2222", "-o", "UserKnownHostsFile=/kh"]),
        ])
    func split(input: String, expected: [String]) throws {
        #expect(try ShellWords.split(input) == expected)
    }

    @Test(
        "split rejects unbalanced input",
        arguments: [
            ("'open", ShellWordsError.Kind.unterminatedSingleQuote, "single quote"),
            ("\"open", .unterminatedDoubleQuote, "double quote"),
            ("\"open\\", .unterminatedDoubleQuote, "double quote"),
            ("end\\", .trailingBackslash, "trailing backslash"),
        ])
    func splitErrors(input: String, kind: ShellWordsError.Kind, text: String) {
        let error = #expect(throws: ShellWordsError.self) { try ShellWords.split(input) }
        #expect(error?.kind == kind)
        #expect(error?.description.contains(text) == true)
    }

    @Test(
        "quote leaves safe words alone",
        arguments: ["abc", "/var/lib/walmgr", "host:/x", "a=b", "user@host", "-p", "50%", "a,b+c"])
    func quoteSafe(word: String) {
        #expect(ShellWords.quote(word) == word)
    }

    @Test(
        "quote single-quotes everything else",
        arguments: [
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", #"'it'\''s'"#),
            ("$(id)", "'$(id)'"),
            ("~/x", "'~/x'"),
            ("a;b", "'a;b'"),
        ])
    func quoteUnsafe(word: String, expected: String) {
        #expect(ShellWords.quote(word) == expected)
    }

    @Test(
        "split(quote(x)) round-trips",
        arguments: [
            "", " ", "plain", "two words", "semi;colon", "$(rm -rf /)", "`id`", "it's",
            "\"double\"", "back\\slash", "new\nline", "tab\there", "'", "''", "*?[]", "~",
            "ünïcødé", "$HOME", "a\\'b\"c",
        ])
    func roundTrip(word: String) throws {
        #expect(try ShellWords.split(ShellWords.quote(word)) == [word])
    }

    @Test("join quotes each word so split restores the argv")
    func joinRoundTrip() throws {
        let argv = ["walmgr", "/etc/wal slave.ini", "xlock", "", "a'b", "$(x)", "l1\nl2"]
        #expect(try ShellWords.split(ShellWords.join(argv)) == argv)
    }
}
