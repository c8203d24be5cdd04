import Foundation

/// The COPY BOTH loop of one START_REPLICATION: write what arrives, fsync per the reply
/// policy, answer keepalives at once, report write/flush positions.
final class ReceiveStream {
    let db: any CopyChannel
    let writer: ReceiveWriter
    let synchronous: Bool
    let statusInterval: Double
    let stop: StopSignal
    let log: Log
    /// Called with a fresh state after each status update (at most once a second) and at the end.
    let report: (ReceiveState.Progress) -> Void
    private var lastStatus = ContinuousClock.now
    /// When the master last sent anything: silence means a dead link (a cut cable sends no RST).
    private var lastHeard = ContinuousClock.now
    private var serverWalEnd = LSN(0)
    private var lastMessage = Date()
    private var caughtUp = Date()
    /// Bytes written since the last reply (synchronous mode replies when the burst ends).
    private var pending = false

    init(
        db: any CopyChannel, writer: ReceiveWriter, settings: ReceiveSettings, stop: StopSignal,
        log: Log, report: @escaping (ReceiveState.Progress) -> Void
    ) {
        self.db = db
        self.writer = writer
        synchronous = settings.synchronous
        statusInterval = settings.statusInterval
        self.stop = stop
        self.log = log
        self.report = report
    }

    /// How the stream ended.
    enum End {
        /// A stop signal: everything received is flushed and reported.
        case stopped
        /// The server ended the COPY (end of its timeline, or its shutdown).
        case serverEnded
    }

    /// Receives until a stop signal or the end of the COPY; a connection error throws.
    func run() throws -> End {
        // At once, as pg_receivewal does: until a first flush position arrives, the master
        // counts this standby as neither synchronous nor caught up.
        try reply()
        while !stop.requested {
            switch try db.readCopy(milliseconds: pending && synchronous ? 0 : nextWait()) {
            case .data(let bytes):
                try handle(ReplicationMessage.parse(bytes))
                // A stream that never pauses must still get replies: every status interval,
                // and in synchronous mode every 100 ms (the commits wait for them).
                if intervalDue || pending && synchronous && sinceStatus > 0.1 { try reply() }
            case .timeout:
                try checkSilence()
                if pending && synchronous || intervalDue { try reply() }
            case .ended:
                try writer.flush()
                publish()
                return .serverEnded
            }
        }
        try reply()
        return .stopped
    }

    private func handle(_ message: ReplicationMessage) throws {
        lastMessage = Date()
        lastHeard = ContinuousClock.now
        switch message {
        case .xlogData(let start, let walEnd, _, let data):
            try writer.write(data, at: start)
            serverWalEnd = max(serverWalEnd, walEnd)
            pending = true
        case .keepalive(let walEnd, _, let replyRequested):
            serverWalEnd = max(serverWalEnd, walEnd)
            if replyRequested || synchronous && pending { try reply() }
        }
    }

    /// Milliseconds to wait for data: until the next status update, at most 1 s (stop checks).
    private func nextWait() -> Int32 {
        let left = statusInterval - seconds(ContinuousClock.now - lastStatus)
        return Int32(max(0, min(1.0, left)) * 1000)
    }

    /// Three status intervals (at least 15 s) without a word from the master, although each
    /// update asked for an answer: the connection is dead; reconnect.
    private func checkSilence() throws {
        let silent = seconds(ContinuousClock.now - lastHeard)
        guard silent > max(15, 3 * statusInterval) else { return }
        throw ReceiveError.silent(seconds: Int(silent))
    }

    private var sinceStatus: Double { seconds(ContinuousClock.now - lastStatus) }

    private var intervalDue: Bool { sinceStatus >= statusInterval }

    /// fsyncs (always in synchronous mode; in async mode too, so flush advances each
    /// interval), then sends write/flush positions.
    private func reply() throws {
        try writer.flush()
        pending = false
        // After a quiet interval, ask the master to answer at once: its keepalive proves the
        // link is alive.
        let update = ReplicationMessage.statusUpdate(
            write: writer.written, flush: writer.flushed, now: PGTime.micros(Date()),
            replyRequested: seconds(ContinuousClock.now - lastHeard) >= statusInterval)
        try db.writeCopy(update)
        lastStatus = ContinuousClock.now
        publish()
    }

    private func publish() {
        if writer.flushed >= serverWalEnd { caughtUp = Date() }
        report(
            ReceiveState.Progress(
                timeline: writer.timeline, received: writer.written, flushed: writer.flushed,
                serverWalEnd: serverWalEnd, lastMessage: lastMessage, caughtUp: caughtUp))
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

extension ReceiveState {
    /// The moving part of the state, as the stream sees it.
    struct Progress {
        let timeline: UInt32
        let received: LSN
        let flushed: LSN
        let serverWalEnd: LSN
        let lastMessage: Date
        let caughtUp: Date
    }
}

/// The COPY BOTH side the receive loop needs: a ``PGConnection``, or a fake in tests.
protocol CopyChannel: AnyObject {
    /// The next message, or a timeout, or the end of the COPY.
    func readCopy(milliseconds: Int32) throws(PGError) -> PGConnection.CopyRead
    /// Sends one message.
    func writeCopy(_ bytes: [UInt8]) throws(PGError)
}

extension PGConnection: CopyChannel {}
