import Foundation

/// The control files and directories the standby commands share (walmgr3's layout).
public struct StandbyFiles: Sendable {
    /// `completed_wals`: archived WAL.
    public let completedWals: String
    /// `partial_wals`: partial segments from sync/syncdaemon.
    public let partialWals: String

    /// Where PAUSE and STOP live: completed_wals, or, when that is an `s3://` bucket (which
    /// holds WAL only), walmgr_data (else partial_wals' parent) on this host.
    public let controlDir: String

    /// Reads the directories from a config.
    public init(_ common: CommonConfig) {
        completedWals = common.completedWals
        partialWals = common.partialWals
        controlDir =
            S3Repository.isS3(common.completedWals)
            ? common.walmgrData ?? (common.partialWals as NSString).deletingLastPathComponent
            : common.completedWals
    }

    /// `completed_wals/PAUSE`: while it exists, xrestore hands out nothing.
    public var pauseFile: String { "\(controlDir)/PAUSE" }
    /// `completed_wals/STOP`: boot asked xrestore to serve partial_wals too.
    public var stopFile: String { "\(controlDir)/STOP" }

    /// True when a file (or anything) exists at `path`.
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Creates a control file durably (its content is a note for the DBA).
    static func create(_ path: String, note: String) throws {
        try Durable.replace(Array((note + "\n").utf8), at: path, mode: 0o600)
    }

    /// Removes a control file; a missing one is fine.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw FileError("remove", path) }
    }
}
