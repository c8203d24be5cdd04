import Foundation

extension Boot {
    /// What partial_wals looks like: any write by sync/xpartialsync changes it.
    struct PartialsState: Equatable {
        /// The newest modification time of a file there (seconds since 1970), 0 when empty.
        var newest: Double = 0
        /// How many files and bytes it holds.
        var files = 0
        var bytes: Int64 = 0

        /// Reads `dir` (missing or unreadable counts as empty: nothing to wait for).
        init(_ dir: String) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for name in names {
                var st = stat()
                guard lstat("\(dir)/\(name)", &st) == 0 else { continue }
                newest = max(newest, Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
                files += 1
                bytes += Int64(st.st_size)
            }
        }
    }

    /// Waits until partial_wals has not changed for `quiet` seconds, so boot does not promote
    /// while a syncdaemon is still shipping (it once shipped the final partial 0.4 s after
    /// promotion, and 215 acknowledged commits were lost).
    ///
    /// The slave does not know the master's loop_delay, so it watches partial_wals itself: the
    /// newest file's mtime, and any change it sees while polling, restart the quiet period. It
    /// gives up after `10 × quiet` seconds: a partial_wals that never gets quiet means a live
    /// master whose WAL still arrives, and promoting then would lose what comes next.
    /// - Throws: ``StandbyError/partialWalsBusy(dir:seconds:quiet:)``; nothing was promoted.
    static func waitForQuietPartials(_ dir: String, quiet: Int, log: Log) async throws {
        guard quiet > 0 else { return }
        let limit = Duration.seconds(10 * quiet)
        let started = ContinuousClock.now
        var state = PartialsState(dir)
        let now = { Date().timeIntervalSince1970 }
        // A future mtime (clock stepped back) counts from now.
        var quietSince = min(now(), state.newest)
        var logged = false
        while now() - quietSince < Double(quiet) {
            guard ContinuousClock.now - started < limit else {
                throw StandbyError.partialWalsBusy(dir: dir, seconds: 10 * quiet, quiet: quiet)
            }
            if !logged {
                log.info(
                    "\(dir) changed \(String(format: "%.1f", now() - quietSince)) s ago: waiting "
                        + "until it is unchanged for \(quiet) s (boot_sync_quiet), so a running "
                        + "syncdaemon's last partial is not lost; at most \(10 * quiet) s")
                logged = true
            }
            try await Task.sleep(for: .milliseconds(200))
            let current = PartialsState(dir)
            if current != state {
                quietSince = Self.quietStart(after: state, now: current, at: now())
                state = current
            }
        }
        if logged { log.info("\(dir) is quiet; going on with boot") }
    }

    /// When the quiet period starts after partial_wals changed from `old` to `new`, seen at
    /// `time`: at the last write (the new newest mtime), not at the poll that saw it, so a
    /// late poll (a busy host) does not push it out; a removal has no mtime, so `time`.
    static func quietStart(after old: PartialsState, now new: PartialsState, at time: Double)
        -> Double
    {
        new.newest > old.newest ? min(time, new.newest) : time
    }
}
