/// Archiving or restoring one WAL file failed.
public enum ArchiveError: WalmgrError {
    /// The source file PostgreSQL named is unreadable.
    case sourceUnreadable(path: String, reason: String)
    /// The bytes received are not what the sender announced.
    case shortTransfer(name: String, expected: Int, received: Int)
    /// A file is in the archive, but not the size a WAL segment must have.
    case wrongSize(path: String, size: Int, expected: Int)

    public var description: String {
        switch self {
        case .sourceUnreadable(let path, let reason):
            return "cannot read WAL file \(path): \(reason). PostgreSQL passes %p relative to its "
                + "data directory; check that archive_command runs in PGDATA and the file exists"
        case .shortTransfer(let name, let expected, let received):
            return "received \(received) of \(expected) bytes for \(name); the transfer broke off. "
                + "Nothing was stored under the final name; the master retries"
        case .wrongSize(let path, let size, let expected):
            return
                "\(path) is \(size) bytes but a WAL segment is \(expected) bytes: it is truncated "
                + "or corrupt, so it is not handed to PostgreSQL. Copy a good one from the master's "
                + "pg_wal or remove it to let streaming take over"
        }
    }
}
