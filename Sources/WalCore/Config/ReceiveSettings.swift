import Foundation

/// The slave's `receive_*` keys: the built-in streaming WAL receiver (`walmgr SLAVE.ini receive`).
public struct ReceiveSettings: Sendable, Equatable {
    /// `receive_conninfo`: where to stream from; default `primary_conninfo` (nil: neither set).
    public let conninfo: String?
    /// `receive_slot`: the physical slot that keeps the master's WAL for the receiver; default
    /// `walmgr_<host>`. Created when missing.
    public let slot: String
    /// `receive_synchronous`: fsync before every status update, so the master's synchronous
    /// commit waits for the slave's disk. Default off (fsync at segment ends and every
    /// status interval).
    public let synchronous: Bool
    /// `receive_status_interval`: seconds between status updates (default 10).
    public let statusInterval: Double
    /// True when the file sets a `receive_*` key: this slave is meant to run `walmgr receive`
    /// (`receive_conninfo` alone falls back to primary_conninfo, which every streaming
    /// standby has).
    public let configured: Bool

    /// The keys that say a slave runs the receiver.
    static let keys = [
        "receive_conninfo", "receive_slot", "receive_synchronous", "receive_status_interval",
    ]

    /// The default of `receive_status_interval`.
    public static let defaultStatusInterval = 10.0

    /// Creates settings; nil picks each default.
    public init(
        conninfo: String? = nil, slot: String? = nil, synchronous: Bool = false,
        statusInterval: Double? = nil, configured: Bool = false,
        hostName: String = ProcessInfo.processInfo.hostName
    ) {
        self.conninfo = conninfo
        self.configured = configured
        self.slot = slot ?? Self.defaultSlot(hostName: hostName)
        self.synchronous = synchronous
        self.statusInterval = statusInterval ?? Self.defaultStatusInterval
    }

    /// `walmgr_<host>` as a valid slot name (lowercase, `[a-z0-9_]`, at most 63 characters).
    public static func defaultSlot(hostName: String) -> String {
        let host = hostName.split(separator: ".").first.map(String.init) ?? hostName
        return CommonConfig.slotName(fromJobName: "walmgr_" + host)
    }

    /// Reads the keys; `receive_conninfo` falls back to `primary_conninfo`.
    init(_ r: ConfigReader, common: CommonConfig) throws(ConfigError) {
        self.init(
            conninfo: try r.string("receive_conninfo") ?? common.primaryConninfo,
            slot: try r.string("receive_slot"),
            synchronous: try r.bool("receive_synchronous", default: false),
            statusInterval: try r.positiveDouble("receive_status_interval"),
            configured: Self.keys.contains(where: r.has))
    }
}
