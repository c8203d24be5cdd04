import Foundation

extension SlaveStatus {
    /// The built-in WAL receiver, when it has run here: running, positions, lag, slot, sync.
    func receiver() {
        let partialWals = config.common.partialWals
        guard !partialWals.isEmpty, let state = ReceiveState.read(partialWals: partialWals) else {
            return
        }
        let running = Self.receiverRunning(state, pidfile: config.common.pidfile)
        report.set("receiver", state.json(running: running))
        if let problem = state.problem(running: running, configFile: config.common.configFile) {
            report.problem(problem)
        }
    }

    /// True while the receiver that wrote `state` runs (its pidfile lock, else its pid).
    static func receiverRunning(_ state: ReceiveState, pidfile: String?) -> Bool {
        if let pid = DaemonControl.lockedPid(pidfile: pidfile) { return pid == state.pid }
        return state.state != "stopped" && !ProcessLiveness.isGone(state.pid)
    }
}

extension ReceiveState {
    /// The `receiver` section of `status` (pure).
    func json(running: Bool, now: Date = Date()) -> JSONValue {
        .object([
            "running": .bool(running),
            "state": .string(running ? state : "stopped"),
            "pid": running ? .int(Int64(pid)) : .null,
            "slot": .string(slot),
            "synchronous": .bool(synchronous),
            "timeline": .int(Int64(timeline)),
            "received_lsn": .string(received),
            "flushed_lsn": .string(flushed),
            "master_wal_end": .string(serverWalEnd),
            "lag_bytes": .int(Int64(clamping: lagBytes)),
            "lag_seconds": .int(Int64(lagSeconds(now: now).rounded())),
            "last_message_time": lastMessageTime > 0
                ? .string(BackupManifest.isoTime(Date(timeIntervalSince1970: lastMessageTime)))
                : .null,
        ])
    }

    /// Why the receiver needs attention, or nil (pure): it died without a clean stop.
    func problem(running: Bool, configFile: String) -> String? {
        guard !running, state != "stopped" else { return nil }
        let sync =
            synchronous
            ? "; with receive_synchronous the master's synchronous commits wait until it runs" : ""
        return "the WAL receiver (pid \(pid)) is gone without a clean stop\(sync). See its log, "
            + "then start it again: walmgr \(configFile) receive -d"
    }
}
