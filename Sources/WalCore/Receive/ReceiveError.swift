/// Why the WAL receiver stopped or refused to start.
public enum ReceiveError: WalmgrError, Equatable {
    /// The server sent something the protocol does not allow.
    case badMessage(String)
    /// The server's WAL does not continue where the receiver's ends.
    case gap(expected: LSN, received: LSN)
    /// IDENTIFY_SYSTEM named another cluster than the backups or the archive.
    case otherCluster(server: String, local: String, source: String, conninfo: String)
    /// Neither `receive_conninfo` nor `primary_conninfo` is set.
    case noConninfo(configFile: String)
    /// completed_wals is an `s3://` URL: the receiver writes WAL into a directory only.
    case s3Archive(completedWals: String, configFile: String)
    /// The master ended the stream without naming a next timeline (it is shutting down).
    case streamEnded
    /// Nothing arrived from the master for too long although the receiver asked for answers.
    case silent(seconds: Int)
    /// The server's answer to a replication command was not what the protocol says.
    case unexpected(command: String, detail: String)

    public var description: String {
        switch self {
        case .badMessage(let what):
            return "the master sent \(what) on the replication connection; the receiver "
                + "reconnects. If it repeats, check that receive_conninfo points at a PostgreSQL "
                + "server (not a pooler)"
        case .gap(let expected, let received):
            return "the master sent WAL from \(received) but the receiver holds WAL only up to "
                + "\(expected); nothing written. The receiver restarts from its last complete "
                + "segment"
        case .otherCluster(let server, let local, let source, let conninfo):
            return "refusing to receive: the server at \(conninfo) has system identifier "
                + "\(server), but \(source) has \(local). receive_conninfo (or primary_conninfo) "
                + "must point at the master these backups and WAL came from; after a new initdb "
                + "take a new backup and clear completed_wals first"
        case .noConninfo(let configFile):
            return "receive needs a master to stream from: set receive_conninfo (or "
                + "primary_conninfo) in \(configFile), e.g. receive_conninfo = "
                + "host=master.example.com user=replicator"
        case .s3Archive(let completedWals, let configFile):
            return "receive cannot write to completed_wals = \(completedWals) (\(configFile)): "
                + "the receiver keeps WAL in a directory only. Either set completed_wals to a "
                + "directory on this host, or leave the bucket to the master's archive_command "
                + "(`walmgr wal-master.ini xarchive`) and stream with primary_conninfo instead "
                + "of `walmgr receive`"
        case .streamEnded:
            return "the master ended streaming without a next timeline (it is shutting down or "
                + "restarting); reconnecting"
        case .silent(let seconds):
            return "no message from the master for \(seconds) s although the receiver asked for "
                + "one: the connection is dead (network cut?); reconnecting"
        case .unexpected(let command, let detail):
            return "\(command) on the replication connection returned \(detail)"
        }
    }
}
