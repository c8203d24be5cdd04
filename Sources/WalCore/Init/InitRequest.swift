/// What `--init-master` / `--init-slave` were asked to do.
public struct InitRequest: Sendable {
    /// True for `--init-master`, false for `--init-slave`.
    public var master: Bool
    /// `--slave HOST`.
    public var slave: String?
    /// `--pgdata DIR`.
    public var pgdata: String?
    /// `--config-dir DIR`.
    public var configDir: String?
    /// `--ssh-keygen`.
    public var sshKeygen: Bool
    /// `--ssh-add-key FILE`.
    public var sshAddKey: String?
    /// `--primary-conninfo CONNINFO`.
    public var primaryConninfo: String?
    /// `--add-password FILE`.
    public var addPassword: String?
    /// `-n`.
    public var notReally: Bool
    /// `-v`.
    public var verbose: Bool
    /// `-q`.
    public var quiet: Bool

    /// Creates a request.
    public init(
        master: Bool, slave: String?, pgdata: String?, configDir: String?, sshKeygen: Bool,
        sshAddKey: String?, primaryConninfo: String?, addPassword: String?, notReally: Bool,
        verbose: Bool, quiet: Bool
    ) {
        self.master = master
        self.slave = slave
        self.pgdata = pgdata
        self.configDir = configDir
        self.sshKeygen = sshKeygen
        self.sshAddKey = sshAddKey
        self.primaryConninfo = primaryConninfo
        self.addPassword = addPassword
        self.notReally = notReally
        self.verbose = verbose
        self.quiet = quiet
    }
}
