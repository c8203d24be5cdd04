import Foundation

/// Finds the bin dir whose pg_ctl belongs to the cluster's major version, for restore, boot
/// and check.
///
/// Why: pg_ctl of another major starts, stops or promotes the wrong server binary (PATH's 15
/// once ran on an 18 backup). `slave_bin` (or `pg_bin`) is used as given, but only when its
/// pg_ctl is the cluster's major. Without it walmgr looks, in this order, in
/// `/usr/lib/postgresql/MAJOR/bin` (Debian), `/usr/pgsql-MAJOR/bin` (RHEL),
/// `pg_config --bindir` and each PATH dir with a pg_ctl, and takes the first that matches.
enum StandbyBin {
    /// One pg_ctl walmgr looked at, and the version it reported (nil: it could not tell).
    struct Found: Sendable, Equatable {
        let pgCtl: String
        let version: ServerVersion?

        /// "/usr/local/bin/pg_ctl is PostgreSQL 15.14".
        var text: String {
            "\(pgCtl) is " + (version.map { "PostgreSQL \($0)" } ?? "of an unknown version")
        }
    }

    /// The dirs to try without slave_bin, most specific first, without duplicates.
    static func candidates(for major: ServerVersion, pgConfigBindir: String?, path: [String])
        -> [String]
    {
        let name = major.majorName
        var dirs = ["/usr/lib/postgresql/\(name)/bin", "/usr/pgsql-\(name)/bin"]
        if let pgConfigBindir, !pgConfigBindir.isEmpty { dirs.append(pgConfigBindir) }
        dirs += path.filter { !$0.isEmpty }
        var seen = Set<String>()
        return dirs.filter { seen.insert(($0 as NSString).standardizingPath).inserted }
    }

    /// The bin dir for a cluster of `version`; `what` names the cluster in errors ("backup
    /// /var/lib/walmgr/data.master").
    /// - Throws: ``StandbyError/versionMismatch(what:version:found:key:)`` naming both versions.
    static func resolve(
        _ version: ServerVersion, for what: String, config: SlaveConfig,
        runner: any ProcessRunning, log: Log
    ) async throws -> PGBin {
        if let configured = PGBin(config.slaveBin).directory {
            let pgCtl = try PGBin(configured).path("pg_ctl")
            let found = Found(pgCtl: pgCtl, version: await pgCtlVersion(pgCtl, runner: runner))
            guard let bin = found.version, bin.sameMajor(as: version) else {
                throw StandbyError.versionMismatch(
                    what: what, version: version.majorName, found: [found.text], key: "slave_bin")
            }
            return PGBin(configured)
        }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map(String.init)
        let dirs = candidates(
            for: version, pgConfigBindir: await pgConfigBindir(runner: runner), path: path)
        var found: [Found] = []
        for dir in dirs where access("\(dir)/pg_ctl", X_OK) == 0 {
            let pgCtl = "\(dir)/pg_ctl"
            let seen = Found(pgCtl: pgCtl, version: await pgCtlVersion(pgCtl, runner: runner))
            if let bin = seen.version, bin.sameMajor(as: version) {
                log.debug("using PostgreSQL \(bin) programs in \(dir) for \(what)")
                return PGBin(dir)
            }
            found.append(seen)
        }
        throw StandbyError.versionMismatch(
            what: what, version: version.majorName, found: found.map(\.text), key: "slave_bin")
    }

    /// What `PGBIN/pg_ctl --version` says, or nil when it does not run or answer.
    static func pgCtlVersion(_ pgCtl: String, runner: any ProcessRunning) async -> ServerVersion? {
        let command = Command(pgCtl, ["--version"])
        guard let result = try? await runner.run(command, input: .none, timeout: .seconds(30)),
            result.succeeded
        else { return nil }
        return ServerVersion(versionString: result.output)
    }

    /// `pg_config --bindir` of the pg_config in PATH, or nil.
    static func pgConfigBindir(runner: any ProcessRunning) async -> String? {
        guard let pgConfig = try? PGBin(nil).path("pg_config"),
            let result = try? await runner.run(
                Command(pgConfig, ["--bindir"]), input: .none, timeout: .seconds(30)),
            result.succeeded
        else { return nil }
        let dir = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return dir.hasPrefix("/") ? dir : nil
    }

    /// The cluster version of a data dir's (or backup's) PG_VERSION, or nil.
    static func dataDirVersion(_ dataDir: String) -> ServerVersion? {
        (try? String(contentsOfFile: "\(dataDir)/PG_VERSION", encoding: .utf8))
            .flatMap { ServerVersion(pgVersionFile: $0) }
    }
}
