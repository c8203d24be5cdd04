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

    /// Free space and writability of the slave's directories (`xspace`).
    func slaveSpace(_ link: SlaveLink) async {
        await report.run("slave space") {
            let result = try await link.run("xspace", runner: context.runner, timeout: .seconds(60))
            let spaces = try JSONDecoder().decode(
                [SlaveProbe.Space].self, from: Data(result.stdout))
            for space in spaces { report.add(Self.judge(space, host: link.hostDescription)) }
            return .pass("slave space", "checked \(spaces.count) directories on the slave")
        }
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
            let started = ContinuousClock.now
            let end = try db.scalar("SELECT \(version.switchWALFunction)()") ?? ""
            guard let lsn = LSN(end), lsn.value > 0 else {
                return .fail("archive round trip", "\(version.switchWALFunction)() returned \(end)")
            }
            let name =
                try db.scalar(
                    "SELECT \(version.walFileNameFunction)($1::pg_lsn)",
                    [LSN(lsn.value - 1).description]) ?? ""
            do {
                try await link.run(
                    "xwalcheck", [name, name, size, "\(Self.archiveWait)"], runner: context.runner,
                    timeout: .seconds(Self.archiveWait + 30))
            } catch {
                let failure = try? db.query(
                    "SELECT last_failed_wal, last_failed_time FROM pg_stat_archiver")
                let last = failure?[0, "last_failed_wal"].map { ", last failure: \($0)" } ?? ""
                return .fail(
                    "archive round trip",
                    "\(name) did not reach completed_wals within "
                        + "\(Self.archiveWait) s\(last): \(error)",
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
}
