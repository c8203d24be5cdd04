import CLibPQ
import Foundation

/// One libpq connection. The only place in walmgr that touches libpq.
///
/// `@unchecked Sendable` is safe here: the `PGconn` handle is only touched while `lock` is
/// held, so at most one task uses it at a time, and it is freed exactly once (`close()` sets
/// it to nil under the lock; `deinit` calls `close()`).
public final class PGConnection: @unchecked Sendable {
    private var conn: OpaquePointer?
    private let lock = NSLock()
    private let conninfo: String

    /// Connects with a libpq conninfo (keyword/value or URI) and fails with a masked error.
    ///
    /// `application_name` defaults to `walmgr`; `client_encoding` is always UTF8.
    public init(conninfo: String) throws(PGError) {
        self.conninfo = conninfo
        let keywords = ["dbname", "fallback_application_name", "client_encoding"]
        let values = [conninfo, "walmgr", "UTF8"]
        let cKeywords = keywords.map { strdup($0) }
        let cValues = values.map { strdup($0) }
        defer { (cKeywords + cValues).forEach { free($0) } }
        let k = cKeywords.map { UnsafePointer($0) } + [nil]
        let v = cValues.map { UnsafePointer($0) } + [nil]
        if let reason = walmgr_pq_load() {
            throw PGError.connect(
                conninfo: conninfo, host: nil, port: nil,
                message: "libpq (libpq.so.5) could not be loaded: \(String(cString: reason)). "
                    + "Install it (Debian: apt-get install libpq5)")
        }
        conn = walmgr_PQconnectdbParams(k, v, 1)
        guard let conn, walmgr_PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: walmgr_PQerrorMessage($0)) } ?? "out of memory"
            let host = conn.flatMap { walmgr_PQhost($0) }.map { String(cString: $0) }
            let port = conn.flatMap { walmgr_PQport($0) }.map { String(cString: $0) }
            close()
            throw PGError.connect(conninfo: conninfo, host: host, port: port, message: message)
        }
        // Notices (e.g. from pg_backup_stop) would go to stderr; walmgr logs what matters.
        walmgr_PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { close() }

    /// Closes the connection; later statements fail with `connectionLost`. Safe to repeat.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if let conn { walmgr_PQfinish(conn) }
        conn = nil
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …; nil is SQL NULL).
    public func query(_ sql: String, _ params: [String?] = []) throws(PGError) -> PGResult {
        lock.lock()
        defer { lock.unlock() }
        let conn = try liveLocked()
        let cParams = params.map { $0.flatMap { strdup($0) } }
        defer { cParams.forEach { free($0) } }
        let values = cParams.map { UnsafePointer($0) }
        let res = walmgr_PQexecParams(conn, sql, Int32(values.count), nil, values, nil, nil, 0)
        defer { walmgr_PQclear(res) }
        try checkLocked(res, conn: conn, sql: sql, accept: [PGRES_EMPTY_QUERY])
        return PGResult(res!)
    }

    /// Throws unless `res` succeeded (rows, a command, or one of `accept`).
    private func checkLocked(
        _ res: OpaquePointer?, conn: OpaquePointer, sql: String, accept: [ExecStatusType] = []
    ) throws(PGError) {
        let status = res.map { walmgr_PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        if [PGRES_TUPLES_OK, PGRES_COMMAND_OK].contains(status) || accept.contains(status) {
            return
        }
        let message =
            res.flatMap { walmgr_PQresultErrorMessage($0) }.map { String(cString: $0) }
            .flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: walmgr_PQerrorMessage(conn))
        if walmgr_PQstatus(conn) != CONNECTION_OK { throw lostError(message: message) }
        let sqlstate = res.flatMap { walmgr_PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }
            .map { String(cString: $0) }
        throw PGError.queryFailed(
            sql: sql, sqlstate: sqlstate, message: PGError.scrub(message, conninfo: conninfo),
            host: hostLocked, port: portLocked)
    }

    /// The open handle, or `connectionLost` (call with `lock` held).
    private func liveLocked() throws(PGError) -> OpaquePointer {
        guard let conn, walmgr_PQstatus(conn) == CONNECTION_OK else {
            throw lostError(message: "the connection is closed")
        }
        return conn
    }

    /// Runs a replication command (`IDENTIFY_SYSTEM`, `TIMELINE_HISTORY 2`, `SHOW …`) with the
    /// simple query protocol, the only one a walsender speaks.
    public func replicationCommand(_ sql: String) throws(PGError) -> PGResult {
        lock.lock()
        defer { lock.unlock() }
        let conn = try liveLocked()
        let res = walmgr_PQexec(conn, sql)
        defer { walmgr_PQclear(res) }
        try checkLocked(res, conn: conn, sql: sql)
        return PGResult(res!)
    }

    /// Sends `START_REPLICATION …`; on success the connection is in COPY BOTH mode.
    public func startCopyBoth(_ sql: String) throws(PGError) {
        lock.lock()
        defer { lock.unlock() }
        let conn = try liveLocked()
        let res = walmgr_PQexec(conn, sql)
        defer { walmgr_PQclear(res) }
        let status = res.map { walmgr_PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        if status == PGRES_COPY_BOTH { return }
        try checkLocked(res, conn: conn, sql: sql)
        throw PGError.unexpectedResult(sql: sql, detail: "the server did not start streaming")
    }

    /// What one read of the COPY stream found.
    public enum CopyRead: Sendable, Equatable {
        /// One CopyData message.
        case data([UInt8])
        /// Nothing arrived within the wait.
        case timeout
        /// The server ended the COPY (end of its timeline, or shutdown); see ``endCopy()``.
        case ended
    }

    /// The next COPY message, waiting up to `milliseconds` on the socket (poll; a signal
    /// wakes it early as a timeout).
    public func readCopy(milliseconds: Int32) throws(PGError) -> CopyRead {
        lock.lock()
        defer { lock.unlock() }
        let conn = try liveLocked()
        var waited = false
        while true {
            var buffer: UnsafeMutablePointer<CChar>? = nil
            let n = walmgr_PQgetCopyData(conn, &buffer, 1)
            if n > 0, let buffer {
                defer { walmgr_PQfreemem(buffer) }
                return .data(Array(UnsafeRawBufferPointer(start: buffer, count: Int(n))))
            }
            if n == -1 { return .ended }
            if n < -1 { throw lostError(message: String(cString: walmgr_PQerrorMessage(conn))) }
            if waited { return .timeout }
            var pfd = pollfd(fd: walmgr_PQsocket(conn), events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, milliseconds)
            if ready < 0, errno != EINTR {
                throw lostError(message: "poll: \(String(cString: strerror(errno)))")
            }
            if ready > 0, walmgr_PQconsumeInput(conn) == 0 {
                throw lostError(message: String(cString: walmgr_PQerrorMessage(conn)))
            }
            waited = ready <= 0
        }
    }

    /// Sends one CopyData message and flushes it (blocking until the socket takes it).
    public func writeCopy(_ bytes: [UInt8]) throws(PGError) {
        lock.lock()
        defer { lock.unlock() }
        let conn = try liveLocked()
        let sent = bytes.withUnsafeBytes {
            walmgr_PQputCopyData(
                conn, $0.baseAddress?.assumingMemoryBound(to: CChar.self),
                Int32($0.count))
        }
        guard sent == 1, walmgr_PQflush(conn) == 0 else {
            throw lostError(message: String(cString: walmgr_PQerrorMessage(conn)))
        }
    }

    /// Finishes a COPY the server ended: answers its CopyDone and collects the results. Returns
    /// the row set the server sends at the end of a timeline (next timeline, its start LSN),
    /// or nil when it sent none (shutdown).
    public func endCopy() throws(PGError) -> PGResult? {
        lock.lock()
        defer { lock.unlock() }
        let conn = try liveLocked()
        var rows: PGResult?
        while let res = walmgr_PQgetResult(conn) {
            defer { walmgr_PQclear(res) }
            let status = walmgr_PQresultStatus(res)
            if status == PGRES_COPY_IN || status == PGRES_COPY_BOTH {
                guard walmgr_PQputCopyEnd(conn, nil) == 1, walmgr_PQflush(conn) == 0 else {
                    throw lostError(message: String(cString: walmgr_PQerrorMessage(conn)))
                }
                continue
            }
            try checkLocked(res, conn: conn, sql: "START_REPLICATION")
            if status == PGRES_TUPLES_OK { rows = PGResult(res) }
        }
        return rows
    }

    /// Runs a statement whose rows (if any) do not matter.
    public func execute(_ sql: String, _ params: [String?] = []) throws(PGError) {
        _ = try query(sql, params)
    }

    /// Runs a query and returns the first column of its first row (nil for NULL or no rows).
    public func scalar(_ sql: String, _ params: [String?] = []) throws(PGError) -> String? {
        let result = try query(sql, params)
        guard let row = result.rows.first, let value = row.first else { return nil }
        return value
    }

    /// The server's `server_version_num` (0 when the connection is closed).
    public var serverVersionNum: Int {
        lock.lock()
        defer { lock.unlock() }
        return conn.map { Int(walmgr_PQserverVersion($0)) } ?? 0
    }

    /// The server's version.
    public var serverVersion: ServerVersion { ServerVersion(num: serverVersionNum) }

    /// True while the connection is open and healthy (as libpq last saw it).
    public var isAlive: Bool {
        lock.lock()
        defer { lock.unlock() }
        return conn.map { walmgr_PQstatus($0) == CONNECTION_OK } ?? false
    }

    /// The host (or socket directory) this connection uses.
    public var host: String {
        lock.lock()
        defer { lock.unlock() }
        return hostLocked
    }

    /// The port this connection uses.
    public var port: String {
        lock.lock()
        defer { lock.unlock() }
        return portLocked
    }

    private var hostLocked: String {
        let h = conn.flatMap { walmgr_PQhost($0) }.map { String(cString: $0) }
        return PGError.serverAddress(conninfo: conninfo, host: h, port: nil).host
    }

    private var portLocked: String {
        let p = conn.flatMap { walmgr_PQport($0) }.map { String(cString: $0) }
        return PGError.serverAddress(conninfo: conninfo, host: nil, port: p).port
    }

    private func lostError(message: String) -> PGError {
        .connectionLost(
            host: hostLocked, port: portLocked,
            message: PGError.scrub(message, conninfo: conninfo))
    }
}

extension PGResult {
    /// Copies a libpq result into Swift values (text format).
    fileprivate init(_ res: OpaquePointer) {
        let nColumns = Int(walmgr_PQnfields(res))
        let nRows = Int(walmgr_PQntuples(res))
        let columns = (0..<nColumns).map { String(cString: walmgr_PQfname(res, Int32($0))) }
        let rows = (0..<nRows).map { r in
            (0..<nColumns).map { c -> String? in
                walmgr_PQgetisnull(res, Int32(r), Int32(c)) == 1
                    ? nil : String(cString: walmgr_PQgetvalue(res, Int32(r), Int32(c)))
            }
        }
        let affected = Int(String(cString: walmgr_PQcmdTuples(res))) ?? 0
        self.init(columns: columns, rows: rows, affectedRows: affected)
    }
}

/// The rows of a finished statement, as text (nil is SQL NULL).
public struct PGResult: Sendable, Equatable {
    /// Column names, in order.
    public let columns: [String]
    /// Rows of text values, one entry per column.
    public let rows: [[String?]]
    /// The number of rows the statement touched (`PQcmdTuples`; 0 when not applicable).
    public let affectedRows: Int

    /// Creates a result (for fakes in tests).
    public init(columns: [String], rows: [[String?]], affectedRows: Int = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The number of rows.
    public var count: Int { rows.count }

    /// The value at a row and a named column; nil for NULL, a missing column or row.
    public subscript(row: Int, column: String) -> String? {
        guard rows.indices.contains(row), let c = columns.firstIndex(of: column),
            rows[row].indices.contains(c)
        else { return nil }
        return rows[row][c]
    }

    /// The value as an integer; nil for NULL or text that is not an integer.
    public func int(row: Int, column: String) -> Int? { self[row, column].flatMap { Int($0) } }

    /// The value as a boolean (`t`/`f`, as PostgreSQL prints booleans); nil otherwise.
    public func bool(row: Int, column: String) -> Bool? {
        switch self[row, column] {
        case "t", "true", "on": true
        case "f", "false", "off": false
        default: nil
        }
    }
}
