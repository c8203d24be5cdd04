import Foundation

/// Writes initial configs, keys and .pgpass entries (`--init-master`, `--init-slave`).
///
/// Everything it adds outside the config dir (an authorized_keys line, a .pgpass line) is
/// recorded in `<walmgr_data>/.walmgr-init-added` so that `cleanup` removes exactly that.
public enum Initializer {
    /// The record of what init added: `kind<TAB>file<TAB>line`.
    public static let recordName = ".walmgr-init-added"

    /// Runs the init request; returns the exit status.
    public static func run(_ request: InitRequest) async -> Int32 {
        let log = Log(verbose: request.verbose, quiet: request.quiet)
        do {
            try await
                (request.master ? initMaster(request, log: log) : initSlave(request, log: log))
            return 0
        } catch let error as any WalmgrError {
            log.error(error.description)
            return error.exitCode
        } catch {
            log.error("init failed: \(error)")
            return 1
        }
    }

    static var home: String { ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory() }

    static func initMaster(_ request: InitRequest, log: Log) async throws {
        guard let slave = request.slave, !slave.isEmpty else {
            throw WalmgrFailure(
                "--init-master needs --slave HOST (the standby's ssh host)", exitCode: 64)
        }
        guard Location.isValidHost(slave) else {
            throw WalmgrFailure(
                "--slave \(slave.debugDescription) is not a host name: use [user@]host with "
                    + "letters, digits, '.', '-', '_' (ssh options go in ssh_options)", exitCode: 64
            )
        }
        let dir = request.configDir ?? "\(home)/conf"
        let pgdata =
            request.pgdata ?? ProcessInfo.processInfo.environment["PGDATA"] ?? "\(home)/data"
        try refuseLineBreaks([
            ("--pgdata", pgdata), ("--config-dir", dir), ("$HOME", home),
            ("walmgr's path", CommandContext.executablePath),
        ])
        let text = InitTemplates.master(
            slave: slave, pgdata: pgdata, configDir: dir, walmgr: CommandContext.executablePath,
            home: home)
        let path = "\(dir)/wal-master.ini"
        let wrote = try writeConfig(text, shown: text, to: path, request: request, log: log)
        try await undoingConfig(wrote ? path : nil) {
            if request.sshKeygen { try await generateKey(request: request, log: log) }
        }
    }

    static func initSlave(_ request: InitRequest, log: Log) async throws {
        let dir = request.configDir ?? "\(home)/conf"
        let pgdata =
            request.pgdata ?? ProcessInfo.processInfo.environment["PGDATA"] ?? "\(home)/data"
        try refuseLineBreaks([
            ("--pgdata", pgdata), ("--config-dir", dir), ("$HOME", home),
            ("--primary-conninfo", request.primaryConninfo),
        ])
        // Read and check the key and .pgpass line first: a bad file must not leave an ini.
        let additions = try InitAdditions(request)
        let path = "\(dir)/wal-slave.ini"
        var walmgrData = "\(home)/walshipping"
        var wrote = false
        if !additions.isEmpty, FileManager.default.fileExists(atPath: path) {
            walmgrData = existingWalmgrData(path) ?? walmgrData
            log.info("\(path) exists; left as it is, adding only the key / password")
            if request.pgdata != nil || request.primaryConninfo != nil {
                log.warning(
                    "--pgdata and --primary-conninfo were not applied: edit \(path) to change them")
            }
        } else {
            let text = InitTemplates.slave(
                pgdata: pgdata, walmgrData: walmgrData, primaryConninfo: request.primaryConninfo)
            let shown = InitTemplates.slave(
                pgdata: pgdata, walmgrData: walmgrData,
                primaryConninfo: request.primaryConninfo.map(Conninfo.masked))
            wrote = try writeConfig(text, shown: shown, to: path, request: request, log: log)
        }
        guard !request.notReally else { return additions.describe(log: log) }
        try await undoingConfig(wrote ? path : nil) {
            try additions.apply(home: home, walmgrData: walmgrData, log: log)
        }
    }

    /// walmgr_data of an existing slave config, where the init record belongs.
    static func existingWalmgrData(_ path: String) -> String? {
        (try? ConfigLoader.load(path: path, overrides: []))?.config.common.walmgrData
    }

    /// Runs the steps after the config was written; when one fails, removes the config again so
    /// a failed init leaves nothing behind and can simply be run again.
    static func undoingConfig(_ path: String?, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            if let path { unlink(path) }
            throw error
        }
    }

    /// Refuses values with a line break: in an ini it would end the value and start a new
    /// line (a key of the caller's choosing). Passwords in the value are masked.
    static func refuseLineBreaks(_ values: [(String, String?)]) throws {
        for case let (name, value?) in values where value.contains(where: \.isNewline) {
            throw WalmgrFailure(
                "\(name) \(Conninfo.masked(value).debugDescription) contains a line break; a "
                    + "config value must be one line. Nothing was written", exitCode: 64)
        }
    }

    /// Writes the config unless it exists; with `-n` prints `shown` (passwords masked)
    /// instead. Returns true when it wrote the file.
    static func writeConfig(
        _ text: String, shown: String, to path: String, request: InitRequest, log: Log
    ) throws -> Bool {
        if FileManager.default.fileExists(atPath: path) {
            throw WalmgrFailure(
                "\(path) already exists; walmgr does not overwrite configs. Move it away or pass "
                    + "--config-dir DIR. To add to an existing setup: walmgr --init-slave "
                    + "--ssh-add-key FILE or --add-password FILE (the ini is kept as it is)")
        }
        if request.notReally {
            log.info("would write \(path):\n\(shown)")
            return false
        }
        try Directories.make((path as NSString).deletingLastPathComponent)
        try Durable.replace(Array(text.utf8), at: path, mode: 0o600)
        log.info("wrote \(path); review it before running setup")
        return true
    }

    static func generateKey(request: InitRequest, log: Log) async throws {
        let key = "\(home)/.ssh/id_ed25519"
        if FileManager.default.fileExists(atPath: key) {
            log.info("\(key) exists; not generating a new key. Public key: \(key).pub")
            return
        }
        if request.notReally { return log.info("would generate \(key)") }
        try Directories.make("\(home)/.ssh")
        let result = try await SubprocessRunner().run(
            Command("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "walmgr", "-f", key]))
        guard result.succeeded else {
            throw WalmgrFailure("ssh-keygen failed (\(result.statusText)): \(result.stderrTail)")
        }
        log.info("generated \(key); on the slave run: walmgr --init-slave --ssh-add-key \(key).pub")
    }
}

/// Files of lines (authorized_keys, .pgpass, the init record): add once, remove exactly.
public enum LineFile {
    /// Appends `line` unless present; creates the file 0600. Returns true when added.
    @discardableResult
    public static func addOnce(_ line: String, to path: String) throws -> Bool {
        let existing = (try? TextFile.read(path)) ?? ""
        let lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init)
        if lines.contains(line) { return false }
        let text = existing.isEmpty || existing.hasSuffix("\n") ? existing : existing + "\n"
        try Durable.replace(Array((text + line + "\n").utf8), at: path, mode: 0o600)
        chmod(path, 0o600)
        return true
    }

    /// Removes every line equal to `line`; returns true when one was removed.
    @discardableResult
    public static func remove(_ line: String, from path: String) throws -> Bool {
        guard let existing = try? TextFile.read(path) else { return false }
        let lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init)
        let kept = lines.filter { $0 != line }
        guard kept.count != lines.count else { return false }
        try Durable.replace(Array(kept.joined(separator: "\n").utf8), at: path, mode: 0o600)
        return true
    }
}
