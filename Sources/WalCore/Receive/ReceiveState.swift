import Foundation

/// What the running receiver last reported, for `status`: written to
/// `partial_wals/.walmgr-receive.json` at most once a second and when it stops.
public struct ReceiveState: Codable, Sendable, Equatable {
    /// The receiver's pid.
    public var pid: Int32
    /// The slot it streams from.
    public var slot: String
    /// True with `receive_synchronous = on`.
    public var synchronous: Bool
    /// The timeline it receives.
    public var timeline: UInt32
    /// The end of the WAL written (`X/X`).
    public var received: String
    /// The end of the WAL fsynced.
    public var flushed: String
    /// The master's WAL end as last reported by it.
    public var serverWalEnd: String
    /// When the last message from the master arrived (Unix seconds).
    public var lastMessageTime: Double
    /// When `flushed` last reached the master's WAL end (Unix seconds): lag seconds start here.
    public var caughtUpTime: Double
    /// "streaming", "connecting" or "stopped".
    public var state: String

    enum CodingKeys: String, CodingKey {
        case pid, slot, synchronous, timeline, received, flushed, state
        case serverWalEnd = "server_wal_end"
        case lastMessageTime = "last_message_time"
        case caughtUpTime = "caught_up_time"
    }

    /// The file name in partial_wals.
    public static let fileName = ".walmgr-receive.json"

    /// Bytes the master has that are not yet durable here.
    public var lagBytes: UInt64 {
        guard let end = LSN(serverWalEnd), let done = LSN(flushed), end > done else { return 0 }
        return end.value - done.value
    }

    /// Seconds since the receiver was last caught up (0 when it is).
    public func lagSeconds(now: Date = Date()) -> Double {
        lagBytes == 0 ? 0 : max(0, now.timeIntervalSince1970 - caughtUpTime)
    }

    /// Reads the state file; nil when missing or unreadable.
    public static func read(partialWals: String) -> ReceiveState? {
        guard let data = FileManager.default.contents(atPath: "\(partialWals)/\(fileName)") else {
            return nil
        }
        return try? JSONDecoder().decode(ReceiveState.self, from: data)
    }

    /// Writes the state file atomically (temp, rename).
    func write(partialWals: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data()
        try Durable.replace(Array(data), at: "\(partialWals)/\(Self.fileName)")
    }
}
