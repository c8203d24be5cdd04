import Foundation

/// Where the master's directory keys live (DESIGN.md "Where things run"): one rule that
/// xarchive, backup, sync and listbackups all follow.
extension MasterConfig {
    /// The host of `slave`, or nil for an empty value. walmgr3 also wrote `slave = host:/path`
    /// (a bare `host:/path`, not an IPv6 literal): the host is the part before `:/`.
    static func slaveHost(_ value: String) -> String? {
        guard !value.isEmpty else { return nil }
        guard let range = value.range(of: ":/") else { return value }
        let host = String(value[..<range.lowerBound])
        return host.isEmpty || host.contains("/") ? value : host
    }

    /// The host the slave's directories are on, or nil when the slave is this machine: a remote
    /// `slave`, else (no `slave` key) the `host:` of completed_wals, as walmgr3 allowed.
    public var slaveDirectoryHost: String? {
        if let slave { return Location.isLocalHost(slave) ? nil : slave }
        // An s3:// URL names no host ("s3" is not one): the first directory key does.
        let key = [common.completedWals, common.fullBackup].first { !S3Repository.isS3($0) }
        return key.flatMap { Location($0).host }
    }

    /// Where a directory key's value is. With a remote slave the directories are on the slave,
    /// whether the value is a plain path or walmgr3's `%(slave)s:%(walmgr_data)s/…`; with a
    /// local slave a plain path is on this machine.
    public func location(of value: String) -> Location {
        let parsed = Location(value)
        guard let host = slaveDirectoryHost else { return parsed }
        return .remote(host: host, path: parsed.path)
    }

    /// Directory keys whose `host:` is not where the slave is, as `(key, value)`: such a config
    /// mixes two places, and `check` names it.
    public var misroutedDirectoryKeys: [(key: String, value: String)] {
        let keys = [
            ("completed_wals", common.completedWals), ("partial_wals", common.partialWals),
            ("full_backup", common.fullBackup), ("config_backup", common.configBackup),
        ]
        return keys.compactMap { key, value in
            guard !value.isEmpty, !S3Repository.isS3(value), let host = Location(value).host else {
                return nil
            }
            return host == slaveDirectoryHost ? nil : (key, value)
        }
    }
}
