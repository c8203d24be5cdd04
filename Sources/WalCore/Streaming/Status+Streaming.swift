import Foundation

/// The streaming parts of `status` and `check`, kept here so the Status code only calls them.
extension MasterStatus {
    /// Replication slots (retained WAL, over `status_max_slot_retained_mb` is a problem) and
    /// connected standbys (`pg_stat_replication`).
    func replication() {
        guard let conninfo = config.masterDb, !conninfo.isEmpty,
            let db = try? PGConnection(conninfo: conninfo)
        else { return }
        let common = config.common
        do {
            let slots = try SlotInfo.query(db)
            let standbys = try SynchStandby.connected(db)
            report.set(
                "replication",
                .object([
                    "slots": .array(slots.map(Self.json)),
                    "standbys": .array(
                        standbys.map {
                            .object([
                                "application_name": .string($0.name), "state": .string($0.state),
                                "sync_state": .string($0.syncState),
                            ])
                        }),
                    "status_max_slot_retained_mb": .int(Int64(common.statusMaxSlotRetainedMB)),
                ]))
            for problem in SlotInfo.problems(slots, maxRetainedMB: common.statusMaxSlotRetainedMB) {
                report.problem(problem)
            }
        } catch {
            report.problem("cannot read replication slots: \(error)")
        }
    }

    static func json(_ slot: SlotInfo) -> JSONValue {
        .object([
            "name": .string(slot.name), "type": .string(slot.type), "active": .bool(slot.active),
            "restart_lsn": .text(slot.restartLSN), "retained_bytes": .number(slot.retainedBytes),
            "wal_status": .text(slot.walStatus), "safe_wal_size": .number(slot.safeWALSize),
        ])
    }
}

extension SlaveStatus {
    /// Seconds without a message from the master after which status asks why (an idle master
    /// answers the receiver's requests well within this).
    static let quietSeconds = 10.0

    /// The receiver's slot and last message; when the standby should stream but is not, or
    /// has heard nothing for a while, the cause from its own replication connection
    /// (``ReplicationProbe``), with the lag counting the time since the last message.
    func streamingFields(_ db: PGConnection) -> [String: JSONValue] {
        guard let receiver = try? ReceiverStatus.query(db) else { return [:] }
        let conninfo = config.common.primaryConninfo ?? ""
        let age = receiver.lastMessageAgeSeconds
        var fields: [String: JSONValue] = [
            "wal_receiver_slot": .text(receiver.slotName),
            "last_message_age_seconds": .number(age.map { Int64($0) }),
        ]
        guard receiver.inRecovery, !conninfo.isEmpty else { return fields }
        if receiver.state == "streaming", (age ?? 0) < Self.quietSeconds { return fields }
        let outcome = ReplicationProbe.probe(primaryConninfo: conninfo)
        fields["streaming_cause"] = .string(outcome.cause)
        let user = ReplicationProbe.user(primaryConninfo: conninfo)
        if let why = outcome.explained(user: user, configFile: config.common.configFile) {
            fields["streaming"] = .bool(false)
            if let age { fields["lag_seconds"] = .number(Int64(age)) }
            report.problem(why)
        } else {
            for problem in receiver.problems(expectStreaming: true) {
                report.problem(
                    problem + " (the master accepts the standby's connection: see "
                        + "the standby's log)")
            }
        }
        return fields
    }
}

extension MasterCheck {
    /// pg_hba: may the standby connect for replication?
    func streaming(_ db: PGConnection) async {
        let slaveUser = await StreamingSetup.standbyUser(config: config, context: context)
        await report.run("pg_hba replication") {
            guard
                let probe = try await HBAProbe.check(
                    config: config, db: db, runner: context.runner, slaveUser: slaveUser)
            else {
                return .pass("pg_hba replication", "no streaming standby configured")
            }
            let who = StreamingSetup.describe(probe.client)
            switch probe.verdict {
            case .allowed(let rule):
                return .pass(
                    "pg_hba replication",
                    "\(who) allowed by \(probe.hbaFile):\(rule.lineNumber) (\(rule.method))")
            case .rejected(let rule):
                return .fail(
                    "pg_hba replication",
                    "\(probe.hbaFile):\(rule.lineNumber) rejects replication from \(who)",
                    fix: "change that line, then SELECT pg_reload_conf()")
            case .noMatch, .undecided:
                return .fail(
                    "pg_hba replication", "no rule in \(probe.hbaFile) admits \(who)",
                    fix: "add \"\(probe.suggestedLine)\" before the other rules and reload, or "
                        + "walmgr \(config.common.configFile) setup --hba")
            }
        }
    }
}
