import Foundation

/// What `--init-slave` adds outside its config: the master's ssh key and a .pgpass line.
///
/// Both files are read and checked when this is made, before anything is written, so a bad
/// key file fails the init with no config left behind.
struct InitAdditions {
    /// The `--ssh-add-key` line.
    let key: String?
    /// The `--add-password` line.
    let passwordLine: String?

    /// Reads and checks the files the request names.
    init(_ request: InitRequest) throws {
        key = try request.sshAddKey.map(Self.readKey)
        passwordLine = try request.addPassword.map(Self.readPasswordLine)
    }

    /// True when there is nothing to add.
    var isEmpty: Bool { key == nil && passwordLine == nil }

    static func readKey(_ file: String) throws -> String {
        let key = try TextFile.read(file).trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.hasPrefix("ssh-") || key.hasPrefix("ecdsa-"), !key.contains(where: \.isNewline)
        else {
            throw WalmgrFailure("\(file) does not hold one ssh public key line", exitCode: 64)
        }
        return key
    }

    static func readPasswordLine(_ file: String) throws -> String {
        let line = try TextFile.read(file).trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.split(separator: ":", omittingEmptySubsequences: false).count >= 5,
            !line.contains(where: \.isNewline)
        else {
            throw WalmgrFailure(
                "\(file) must hold one .pgpass line: host:port:database:user:password",
                exitCode: 64)
        }
        return line
    }

    /// `-n`: says what would be added (never the password).
    func describe(log: Log) {
        if key != nil { log.info("would add the key to ~/.ssh/authorized_keys") }
        if passwordLine != nil { log.info("would add a line to ~/.pgpass (mode 0600)") }
    }

    /// Adds the key and the .pgpass line once each, and records what was added in
    /// `<walmgrData>/.walmgr-init-added` for `cleanup`.
    func apply(home: String, walmgrData: String, log: Log) throws {
        try Directories.make(walmgrData)
        let record = "\(walmgrData)/\(Initializer.recordName)"
        if let key {
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
        if let passwordLine {
            let added = try LineFile.addOnce(passwordLine, to: "\(home)/.pgpass")
            log.info(
                added ? "added a line to ~/.pgpass (mode 0600)" : "~/.pgpass already has that line")
            if added {
                try LineFile.addOnce("pgpass\t\(home)/.pgpass\t\(passwordLine)", to: record)
            }
        }
    }
}
