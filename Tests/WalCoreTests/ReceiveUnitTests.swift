import Foundation
import Testing

@testable import WalCore

/// The receiver's pure parts: protocol messages, LSN arithmetic, start point, segment split.
@Suite struct ReceiveUnitTests {
    static func be64(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) }
    }

    @Test func parsesXLogData() throws {
        let bytes =
            [UInt8(ascii: "w")] + Self.be64(0x1_0000_0010) + Self.be64(0x1_0000_0020)
            + Self.be64(42) + [1, 2, 3]
        let message = try ReplicationMessage.parse(bytes)
        guard case .xlogData(let start, let end, let time, let data) = message else {
            Issue.record("not XLogData: \(message)")
            return
        }
        #expect(start == LSN(0x1_0000_0010) && start.description == "1/10")
        #expect(end == LSN(0x1_0000_0020) && time == 42 && Array(data) == [1, 2, 3])
    }

    @Test func parsesKeepaliveAndRefusesJunk() throws {
        let ask = [UInt8(ascii: "k")] + Self.be64(0x2000) + Self.be64(7) + [1]
        #expect(
            try ReplicationMessage.parse(ask)
                == .keepalive(walEnd: LSN(0x2000), sendTime: 7, replyRequested: true))
        let quiet = [UInt8(ascii: "k")] + Self.be64(0x2000) + Self.be64(7) + [0]
        #expect(
            try ReplicationMessage.parse(quiet)
                == .keepalive(walEnd: LSN(0x2000), sendTime: 7, replyRequested: false))
        #expect(throws: ReceiveError.self) { try ReplicationMessage.parse([]) }
        #expect(throws: ReceiveError.self) {
            try ReplicationMessage.parse([UInt8(ascii: "w"), 0, 0])
        }
        #expect(throws: ReceiveError.self) { try ReplicationMessage.parse(Array(ask.prefix(17))) }
        #expect(throws: ReceiveError.self) {
            try ReplicationMessage.parse([UInt8(ascii: "x")] + ask.dropFirst())
        }
    }

    @Test func buildsStatusUpdate() {
        let now = PGTime.micros(Date(timeIntervalSince1970: 946_684_800 + 1.5))
        #expect(now == 1_500_000)
        let update = ReplicationMessage.statusUpdate(
            write: LSN(0x1_0000_0100), flush: LSN(0x1_0000_0080), now: now, replyRequested: true)
        #expect(update.count == 34 && update[0] == UInt8(ascii: "r"))
        #expect(Array(update[1..<9]) == Self.be64(0x1_0000_0100))
        #expect(Array(update[9..<17]) == Self.be64(0x1_0000_0080))
        #expect(Array(update[17..<25]) == Self.be64(0), "apply: a receiver replays nothing")
        #expect(Array(update[25..<33]) == Self.be64(1_500_000))
        #expect(update[33] == 1)
        #expect(PGTime.date(1_500_000).timeIntervalSince1970 == 946_684_801.5)
    }

    @Test func lsnArithmeticIsChecked() {
        #expect(LSN(10).adding(5) == LSN(15))
        #expect(LSN(UInt64.max - 1).adding(2) == nil)
        #expect(LSN(0x1_0123_4567).segmentStart(16 << 20) == LSN(0x1_0100_0000))
        let seg = WALSegment(timeline: 1, number: 3, size: 16 << 20)
        #expect(seg.start == LSN(0x300_0000) && seg.endLSN == LSN(0x400_0000))
        let last = WALSegment(timeline: 1, number: UInt64.max / (16 << 20), size: 16 << 20)
        #expect(last.endLSN == nil, "the last segment's end is past 64 bits: no trap")
        // A segment past the 64-bit WAL space (only a broken caller makes one) has no start:
        // the receiver cannot start there, instead of trapping in `number × size`.
        let beyond = WALSegment(timeline: 1, number: UInt64.max, size: 16 << 20)
        #expect(beyond.start == nil)
        #expect(ReceivePlan.Start(segment: beyond) == nil)
        #expect(ReceivePlan.Start(segment: seg)?.lsn == LSN(0x300_0000))
        #expect(
            ReceivePlan.pieces(start: LSN(UInt64.max - 2), count: 8, segmentSize: 1 << 20) == nil)
    }

    @Test func splitsAtSegmentBoundaries() throws {
        let size: UInt64 = 1 << 20
        let pieces = try #require(
            ReceivePlan.pieces(start: LSN(size - 100), count: 300, segmentSize: size))
        #expect(pieces.count == 2)
        #expect(
            pieces[0]
                == .init(segment: 0, offset: size - 100, range: 0..<100, completesSegment: true))
        #expect(
            pieces[1] == .init(segment: 1, offset: 0, range: 100..<300, completesSegment: false))
        let exact = try #require(
            ReceivePlan.pieces(start: LSN(0), count: Int(size), segmentSize: size))
        #expect(exact.count == 1 && exact[0].completesSegment)
        let two = try #require(
            ReceivePlan.pieces(start: LSN(size / 2), count: Int(2 * size), segmentSize: size))
        #expect(
            two.map(\.segment) == [0, 1, 2] && two.map(\.completesSegment) == [true, true, false])
        #expect(ReceivePlan.pieces(start: LSN(5), count: 0, segmentSize: size) == [])
    }

    @Test func startPoint() {
        let size: UInt64 = 16 << 20
        #expect(ReceivePlan.start(completed: [], partials: [], segmentSize: size) == nil)
        let afterComplete = ReceivePlan.start(
            completed: [
                "000000010000000000000003", "000000010000000000000004.zst", "00000002.history",
                "000000010000000000000002.00000028.backup",
            ],
            partials: ["000000010000000000000004.partial", ".walmgr-receive.json"],
            segmentSize: size)
        #expect(afterComplete?.segment.name == "000000010000000000000005")
        #expect(afterComplete?.lsn == LSN(0x500_0000))
        let resume = ReceivePlan.start(
            completed: ["000000010000000000000004"], partials: ["000000010000000000000005.partial"],
            segmentSize: size)
        #expect(
            resume?.segment.name == "000000010000000000000005", "the .partial is received again")
        let onlyPartial = ReceivePlan.start(
            completed: [],
            partials: ["000000020000000100000007.partial", "000000010000000100000007"],
            segmentSize: size)
        #expect(
            onlyPartial?.segment.name == "000000020000000100000007",
            "syncdaemon's files are not the receiver's")
    }

    @Test func timelineHistory() {
        let text = "1\t0/5000060\tno recovery target specified\n\n2\t0/7000000\tbefore 2000-01-01\n"
        let history = ReceivePlan.history(text)
        #expect(
            history == [
                .init(timeline: 1, switchPoint: LSN(0x500_0060)),
                .init(timeline: 2, switchPoint: LSN(0x700_0000)),
            ])
        #expect(ReceivePlan.timeline(of: LSN(0x400_0000), current: 3, history: history) == 1)
        #expect(ReceivePlan.timeline(of: LSN(0x500_0000), current: 3, history: history) == 1)
        #expect(ReceivePlan.timeline(of: LSN(0x500_0060), current: 3, history: history) == 2)
        #expect(ReceivePlan.timeline(of: LSN(0x800_0000), current: 3, history: history) == 3)
    }

    @Test func segmentSizeFromShow() {
        #expect(ReceivePlan.segmentSize("16MB") == 16 << 20)
        #expect(ReceivePlan.segmentSize("1GB") == 1 << 30)
        #expect(ReceivePlan.segmentSize("1048576") == 1 << 20)
        #expect(ReceivePlan.segmentSize("3MB") == nil)
        #expect(ReceivePlan.segmentSize("512kB") == nil)
    }

    @Test func receiveKeys() throws {
        let plain = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\nprimary_conninfo = host=m user=r\n")
        #expect(plain.receive.conninfo == "host=m user=r")
        #expect(plain.receive.slot.hasPrefix("walmgr_") && !plain.receive.synchronous)
        #expect(plain.receive.statusInterval == 10)
        let set = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\nprimary_conninfo = host=m\nreceive_conninfo = host=x\n"
                + "receive_slot = r1\nreceive_synchronous = on\nreceive_status_interval = 0.5\n")
        #expect(
            set.receive
                == ReceiveSettings(
                    conninfo: "host=x", slot: "r1", synchronous: true, statusInterval: 0.5,
                    configured: true))
        #expect(!plain.receive.configured, "primary_conninfo alone is no receiver")
        #expect(ReceiveSettings.defaultSlot(hostName: "DB-2.example.com") == "walmgr_db_2")
        #expect(throws: ConfigError.self) {
            try ConfigFixture.slave("[walmgr]\nslave_data = /d\nreceive_status_interval = 0\n")
        }
        let loaded = try ConfigFixture.load(
            "[walmgr]\nslave_data = /d\nreceive_slot = a\nreceive_synchronous = no\n")
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
    }

    /// dbname=replication always (it comes last, so it wins): libpq matches the `.pgpass`
    /// line `HOST:PORT:replication:USER:PASSWORD` on it, as for PostgreSQL's WAL receiver.
    @Test func conninfoForTheReceiver() {
        #expect(
            ReceiveSession.conninfo("host=m user=r", slot: "s1")
                == "host=m user=r application_name=s1 connect_timeout=10 dbname=replication "
                + "replication=true")
        #expect(
            ReceiveSession.conninfo("host=m application_name=x connect_timeout=3", slot: "s1")
                == "host=m application_name=x connect_timeout=3 dbname=replication "
                + "replication=true")
        #expect(
            ReceiveSession.conninfo("postgresql://m/db", slot: "s")
                == "postgresql://m/db?application_name=s&connect_timeout=10&dbname=replication"
                + "&replication=true")
    }

    /// A refused connection is logged with its cause and fix, not libpq's generic hint.
    @Test func connectFailureNamesTheCauseAndFix() throws {
        let config = try ConfigFixture.slave(
            "[walmgr]\nslave_data = /d\nprimary_conninfo = host=master user=replicator\n")
        func logged(_ message: String) -> String {
            Receiver.failure(
                PGError.connectFailed(
                    conninfo: "host=master user=replicator", host: "master", port: "5432",
                    message: message), config: config)
        }
        let noPassword = logged(
            "connection to server at \"master\" failed: fe_sendauth: no password supplied")
        #expect(noPassword.contains("authentication failed for the standby's user replicator"))
        #expect(noPassword.contains("~/.pgpass") && !noPassword.contains("listen_addresses"))
        let hba = logged(
            "FATAL:  no pg_hba.conf entry for replication connection from host \"10.0.0.2\"")
        #expect(hba.contains("setup --hba"), "\(hba)")
        let other = Receiver.failure(ReceiveError.noConninfo(configFile: "x.ini"), config: config)
        #expect(other == "\(ReceiveError.noConninfo(configFile: "x.ini"))")
    }

    @Test func stateLag() {
        var state = ReceiveState(
            pid: 1, slot: "s", synchronous: false, timeline: 1, received: "0/3000000",
            flushed: "0/2000000", serverWalEnd: "0/3000000", lastMessageTime: 100, caughtUpTime: 90,
            state: "streaming")
        #expect(state.lagBytes == 0x100_0000)
        #expect(state.lagSeconds(now: Date(timeIntervalSince1970: 100)) == 10)
        state.flushed = "0/3000000"
        #expect(state.lagBytes == 0 && state.lagSeconds() == 0)
    }

    /// A receiver that exited but is not reaped yet (a zombie) holds nothing: `status` must not
    /// call it running, and `boot` must not wait 30 s for it.
    @Test func zombieReceiverIsNotRunning() async throws {
        // A zombie no reaper in this process can collect (a grandchild): a child of ours was
        // reaped by the process runner in the full suite, and its pid then reused.
        let dir = try TestEnv.scratchDir(prefix: "wmzr")
        defer { TestEnv.removeScratch(dir) }
        let zombie = try await Zombie.start(in: dir)
        defer { zombie.stop() }
        let pid = zombie.pid
        let state = ReceiveState(
            pid: pid, slot: "s", synchronous: false, timeline: 1, received: "0/0", flushed: "0/0",
            serverWalEnd: "0/0", lastMessageTime: 0, caughtUpTime: 0, state: "streaming")
        #expect(!SlaveStatus.receiverRunning(state, pidfile: nil))
        #expect(
            SlaveStatus.receiverRunning(
                ReceiveState(
                    pid: getpid(), slot: "s", synchronous: false, timeline: 1, received: "0/0",
                    flushed: "0/0", serverWalEnd: "0/0", lastMessageTime: 0, caughtUpTime: 0,
                    state: "streaming"), pidfile: nil))
    }
}
