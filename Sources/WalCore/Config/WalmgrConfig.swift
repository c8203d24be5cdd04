/// Which side of WAL shipping a config describes.
public enum Role: String, Sendable, CaseIterable {
    /// The primary server: archives and ships WAL, takes base backups.
    case master
    /// The standby side: stores WAL and backups, restores and boots the standby.
    case slave
}

/// A loaded, typed walmgr config: master or slave, decided by the presence of `master_data`.
public enum WalmgrConfig: Sendable, Equatable {
    /// A config with `master_data`.
    case master(MasterConfig)
    /// A config without `master_data`.
    case slave(SlaveConfig)

    /// The role of this config.
    public var role: Role {
        switch self {
        case .master: .master
        case .slave: .slave
        }
    }

    /// The keys both roles share.
    public var common: CommonConfig {
        switch self {
        case .master(let master): master.common
        case .slave(let slave): slave.common
        }
    }

    /// The master settings, or nil for a slave config.
    public var master: MasterConfig? {
        if case .master(let master) = self { return master }
        return nil
    }

    /// The slave settings, or nil for a master config.
    public var slave: SlaveConfig? {
        if case .slave(let slave) = self { return slave }
        return nil
    }
}

/// The result of loading a config file: the typed config and non-fatal findings.
public struct LoadedConfig: Sendable {
    /// The typed config.
    public let config: WalmgrConfig
    /// Warnings such as `wal-master.ini:7: unknown key "foo" ignored`, in line order.
    public let warnings: [String]

    /// Creates a loaded config.
    public init(config: WalmgrConfig, warnings: [String]) {
        self.config = config
        self.warnings = warnings
    }
}
