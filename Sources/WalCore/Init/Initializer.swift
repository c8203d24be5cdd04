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
        let text = InitTemplates.master(
            slave: slave, pgdata: pgdata, configDir: dir, walmgr: CommandContext.executablePath,
            home: home)
        try writeConfig(text, to: "\(dir)/wal-master.ini", request: request, log: log)
        if request.sshKeygen { try await generateKey(request: request, log: log) }
    }

    static func initSlave(_ request: InitRequest, log: Log) async throws {
        let dir = request.configDir ?? "\(home)/conf"
        let pgdata =
            request.pgdata ?? ProcessInfo.processInfo.environment["PGDATA"] ?? "\(home)/data"
        let walmgrData = "\(home)/walshipping"
        let text = InitTemplates.slave(
            pgdata: pgdata, walmgrData: walmgrData, primaryConninfo: request.primaryConninfo)
        try writeConfig(text, to: "\(dir)/wal-slave.ini", request: request, log: log)
        guard !request.notReally else { return }
        try Directories.make(walmgrData)
        let record = "\(walmgrData)/\(recordName)"
        if let keyFile = request.sshAddKey {
            let key = try TextFile.read(keyFile).trimmingCharacters(in: .whitespacesAndNewlines)
            guard key.hasPrefix("ssh-") || key.hasPrefix("ecdsa-"), !key.contains("\n") else {
                throw WalmgrFailure("\(keyFile) does not hold one ssh public key line")
            }
            try Directories.make("\(home)/.ssh")
            let added = try LineFile.addOnce(key, to: "\(home)/.ssh/authorized_keys")
            log.info(
                added ? "added the key to ~/.ssh/authorized_keys" : "the key was already authorized"
            )
            if added {
                try LineFile.addOnce(
                    "authorized_keys\t\(home)/.ssh/authorized_keys\t\(key)", to: record)
            }
        }
        if let passwordFile = request.addPassword {
            let line = try TextFile.read(passwordFile).trimmingCharacters(
                in: .whitespacesAndNewlines)
            guard line.split(separator: ":", omittingEmptySubsequences: false).count >= 5,
                !line.contains("\n")
            else {
                throw WalmgrFailure(
                    "\(passwordFile) must hold one .pgpass line: host:port:database:user:password")
            }
            let added = try LineFile.addOnce(line, to: "\(home)/.pgpass")
            log.info(
                added ? "added a line to ~/.pgpass (mode 0600)" : "~/.pgpass already has that line")
            if added { try LineFile.addOnce("pgpass\t\(home)/.pgpass\t\(line)", to: record) }
        }
    }

    static func writeConfig(_ text: String, to path: String, request: InitRequest, log: Log) throws
    {
        if FileManager.default.fileExists(atPath: path) {
            throw WalmgrFailure(
                "\(path) already exists; walmgr does not overwrite configs. Move it away or pass "
                    + "--config-dir DIR")
        }
        if request.notReally {
            log.info("would write \(path):\n\(text)")
            return
        }
        try Directories.make((path as NSString).deletingLastPathComponent)
        try Durable.replace(Array(text.utf8), at: path, mode: 0o600)
        log.info("wrote \(path); review it before running setup")
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
