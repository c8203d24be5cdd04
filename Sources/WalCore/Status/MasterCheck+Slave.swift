import Foundation

/// The master's checks that go through the slave: ssh, the slave's walmgr, space, archiving.
extension MasterCheck {
    /// How long `check --archive` waits for the switched segment to arrive.
    static let archiveWait = 60

    /// Runs `xversion` on the slave; passes when it answers with a compatible version.
    func slaveAnswers(_ link: SlaveLink) async -> Bool {
        let how =
            link.ssh == nil
            ? "local slave (no ssh)" : "ssh to \(link.hostDescription) with host key checking"
        do {
            let result = try await link.run(
                "xversion", runner: context.runner, timeout: .seconds(60))
            guard let version = SlaveProbe.parseVersion(result.output) else {
                report.add(
                    .fail(
                        "slave walmgr",
                        "\(link.walmgr) on \(link.hostDescription) printed "
                            + "\"\(result.output.prefix(80))\", not a walmgr version",
                        fix: "set slave_walmgr to the walmgr binary on the slave"))
                return false
            }
            guard SlaveProbe.compatible(version, Walmgr.version) else {
                report.add(
                    .fail(
                        "slave walmgr", "\(how): walmgr \(version) there, \(Walmgr.version) here",
                        fix: "install walmgr \(Walmgr.version) on both hosts"))
                return false
            }
            report.add(.pass("slave", "\(how): walmgr \(version) answers"))
            return true
        } catch let error as TransportError {
            if case .remote(_, _, _, let stderr) = error, stderr.contains("unknown command") {
                report.add(
                    .fail(
                        "slave walmgr",
                        "the walmgr on \(link.hostDescription) is older than "
                            + "\(Walmgr.version) (no xversion)",
                        fix: "install walmgr \(Walmgr.version) on the slave"))
            } else {
                report.add(.fail("slave", "\(how): \(error)"))
            }
            return false
        } catch {
            report.add(.fail("slave", "\(how): \(error)"))
            return false
        }
    }

    /// Free space and writability of the slave's directories (`xspace`). Returns the problem
    /// of the slave's completed_wals (where xarchive writes), or nil when it is writable.
    func slaveSpace(_ link: SlaveLink) async -> String? {
        var blocked: String?
        await report.run("slave space") {
            let result = try await link.run("xspace", runner: context.runner, timeout: .seconds(60))
            let spaces = try JSONDecoder().decode(
                [SlaveProbe.Space].self, from: Data(result.stdout))
            for space in spaces { report.add(Self.judge(space, host: link.hostDescription)) }
            blocked = spaces.first { $0.key == "completed_wals" }?.problem
            return .pass("slave space", "checked \(spaces.count) directories on the slave")
        }
        return blocked
    }

    static func judge(_ space: SlaveProbe.Space, host: String) -> CheckResult {
        let name = "slave \(space.key)"
        if let problem = space.problem { return .fail(name, "on \(host): \(problem)") }
        let free = ListBackups.humanSize(space.freeBytes)
        guard space.freeBytes >= SlaveProbe.minimumFreeBytes else {
            return .fail(
                name, "only \(free) free under \(space.path) on \(host)",
                fix: "free space there or move walmgr_data to a larger file system "
                    + "(archiving stops when it is full, and WAL piles up on the master)")
        }
        return .pass(name, "\(space.path) on \(host) writable, \(free) free")
    }

    /// `--archive`: switch WAL, then wait until that segment is in completed_wals; time it.
    func archiveRoundTrip(_ link: SlaveLink) async {
        await report.run("archive round trip") {
            let db = try PGConnection(conninfo: config.masterDb ?? "")
            let version = db.serverVersion
            let size =
                try db.scalar(
                    "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'") ?? "16777216"
            let failedBefore = Self.archiverFailures(db).count
            let started = ContinuousClock.now
            let end = try db.scalar("SELECT \(version.switchWALFunction)()") ?? ""
            guard let lsn = LSN(end), lsn.value > 0 else {
                return .fail("archive round trip", "\(version.switchWALFunction)() returned \(end)")
            }
            let name =
                try db.scalar(
                    "SELECT \(version.walFileNameFunction)($1::pg_lsn)",
                    [LSN(lsn.value - 1).description]) ?? ""
            if let failure = await arrival(
                link, db: db, name: name, size: size, failedBefore: failedBefore)
            {
                return .fail(
                    "archive round trip", failure,
                    fix: "read the PostgreSQL log for xarchive errors (walmgr INI status shows "
                        + "pg_stat_archiver)")
            }
            let elapsed = ContinuousClock.now - started
            let ms =
                elapsed.components.seconds * 1000 + elapsed.components.attoseconds
                / 1_000_000_000_000_000
            return .pass("archive round trip", "\(name) archived and on the slave in \(ms) ms")
        }
    }

    /// Waits for `name` in the slave's completed_wals (`xwalcheck`) while watching
    /// pg_stat_archiver: when xarchive fails (failed_count passes `failedBefore`) the wait ends
    /// at once instead of after ``archiveWait`` seconds. Returns nil when the segment arrived,
    /// else what went wrong.
    func arrival(
        _ link: SlaveLink, db: PGConnection, name: String, size: String, failedBefore: Int64
    ) async -> String? {
        let runner = context.runner
        let wait = Self.archiveWait
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await link.run(
                        "xwalcheck", [name, name, size, "\(wait)"], runner: runner,
                        timeout: .seconds(wait + 30))
                    return nil
                } catch {
                    let last = Self.archiverFailures(db).wal.map { ", last failure: \($0)" } ?? ""
                    return "\(name) did not reach completed_wals within \(wait) s\(last): \(error)"
                }
            }
            group.addTask {
                // Returns only on a failure (or when cancelled, after the first result is in).
                while !Task.isCancelled {
                    let now = Self.archiverFailures(db)
                    if now.count > failedBefore {
                        return "xarchive failed on \(now.wal ?? "a segment") while waiting for "
                            + "\(name) (pg_stat_archiver.last_failed_wal); stopped waiting"
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// pg_stat_archiver's failed_count and last_failed_wal (0 and nil when unreadable).
    static func archiverFailures(_ db: PGConnection) -> (count: Int64, wal: String?) {
        let rows = try? db.query("SELECT failed_count, last_failed_wal FROM pg_stat_archiver")
        return (Int64(rows?[0, "failed_count"] ?? "") ?? 0, rows?[0, "last_failed_wal"])
    }
}
