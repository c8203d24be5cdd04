import Testing

@testable import WalCore

@Suite struct PostgresConfTests {
    static let sample = """
        # PostgreSQL configuration
        listen_addresses = '*'		# what IP address(es) to listen on;
        #archive_mode = off		# enables archiving; off, on, or always
        archive_command = ''	# command to use to archive a logfile segment
        wal_level = minimal
        max_wal_senders = 10
        include_if_exists = 'extra.conf'

        """

    @Test func replacesActiveSettingKeepingItsComment() {
        var conf = PostgresConf.parse(Self.sample)
        let changed = conf.set("archive_command", "'walmgr x.ini xarchive %p %f'")
        #expect(changed)
        let text = conf.render()
        #expect(
            text.contains(
                "archive_command = 'walmgr x.ini xarchive %p %f'\t\t# command to use to archive"))
        #expect(text.contains("#archive_mode = off\t\t# enables archiving"))
    }

    @Test func appendsWhenOnlyACommentedLineExists() {
        var conf = PostgresConf.parse(Self.sample)
        let changed = conf.set("archive_mode", "on")
        #expect(changed)
        #expect(conf.render().hasSuffix("archive_mode = on\n"))
        #expect(conf.value("archive_mode") == "on")
    }

    @Test func keepsEveryOtherLineByteForByte() {
        var conf = PostgresConf.parse(Self.sample)
        conf.set("wal_level", "replica")
        let before = Self.sample.split(separator: "\n", omittingEmptySubsequences: false)
        let after = conf.render().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(before.count == after.count)
        for (a, b) in zip(before, after) where !a.hasPrefix("wal_level") { #expect(a == b) }
    }

    @Test func secondSetIsANoOp() {
        var conf = PostgresConf.parse(Self.sample)
        conf.set("archive_mode", "on")
        let once = conf.render()
        let changedAgain = conf.set("archive_mode", "on")
        #expect(!changedAgain)
        #expect(conf.render() == once)
    }

    @Test func quotedValuesAndIncludes() {
        let conf = PostgresConf.parse("a = 'it''s \\\\ here' # c\nb=5\n")
        #expect(conf.value("a") == "it's \\ here")
        #expect(conf.value("B") == "5")
        #expect(PostgresConf.parse(Self.sample).includes == ["extra.conf"])
        #expect(PostgresConf.quote("a'b\\c") == "'a''b\\\\c'")
    }

    @Test func lastAssignmentWins() {
        var conf = PostgresConf.parse("wal_level = minimal\nwal_level = logical\n")
        #expect(conf.value("wal_level") == "logical")
        conf.set("wal_level", "replica")
        #expect(conf.render() == "wal_level = minimal\nwal_level = replica\n")
    }
}
