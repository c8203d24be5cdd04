import Foundation

/// Reaching the slave failed: ssh, rsync, or the walmgr called there.
public enum TransportError: WalmgrError {
    /// ssh itself failed (exit 255): connection, authentication or host key.
    case ssh(host: String, stderr: String)
    /// rsync failed with this status.
    case rsync(command: String, status: String, stderr: String)
    /// The walmgr command on the slave failed.
    case remote(host: String, command: String, status: String, stderr: String)
    /// A configuration that cannot reach the slave.
    case misconfigured(String)

    public var description: String {
        switch self {
        case .ssh(let host, let stderr):
            return "ssh to \(host) failed: \(Self.lastLine(stderr)). "
                + Self.sshAdvice(host, stderr)
        case .rsync(let command, let status, let stderr):
            return "rsync failed (\(status)): \(Self.lastLine(stderr)). Command: \(command)"
        case .remote(let host, let command, let status, let stderr):
            return
                "walmgr on \(host) failed (\(status)) running \(command): \(Self.lastLine(stderr))"
                + Self.remoteAdvice(host, status)
        case .misconfigured(let message):
            return message
        }
    }

    static func lastLine(_ text: String) -> String {
        // ssh ends its lines with \r\n, one Character that is not "\n".
        let lines = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return lines.last { !$0.isEmpty } ?? "no error output"
    }

    /// Advice for the exits that say the slave's walmgr is not the one the master expects: the
    /// remote shell did not find it (127) or could not run it (126), or it refused the helper
    /// or its arguments (64), which a slave still on another walmgr version does.
    static func remoteAdvice(_ host: String, _ status: String) -> String {
        switch status {
        case "exit 127":
            return ". The slave's shell found no walmgr there: install walmgr \(Walmgr.version) on "
                + "\(host), or set slave_walmgr in the master's ini to its full path on the slave"
        case "exit 126":
            return ". The slave's shell found walmgr but could not run it: make it executable "
                + "(chmod 0755) for the user ssh logs in as on \(host)"
        case "exit 64":
            return ". The walmgr there did not take this command or its arguments, which happens "
                + "when the two hosts run different walmgr versions (this one is "
                + "\(Walmgr.version)): `walmgr MASTER_INI check` compares them; install the same "
                + "version on both hosts"
        default:
            return ""
        }
    }

    /// Advice for the usual ssh failures, recognised from ssh's own messages.
    static func sshAdvice(_ host: String, _ stderr: String) -> String {
        if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("Host key verification failed")
        {
            let name = host.split(separator: "@").last.map(String.init) ?? host
            let offending =
                stderr.split(whereSeparator: \.isNewline)
                .first { $0.contains("Offending") }.map { " (ssh says: \($0))" } ?? ""
            return "The host key of \(name) is unknown or has changed\(offending). If the change "
                + "is expected, remove the old key with `ssh-keygen -R \(name)` (`ssh-keygen -R "
                + "'[\(name)]:PORT'` when ssh_options sets a port; add `-f FILE` for the "
                + "UserKnownHostsFile in ssh_options), then accept the new one by running "
                + "`ssh \(host) true` once as the user walmgr runs as. walmgr never disables host "
                + "key checking"
        }
        if stderr.contains("Permission denied") {
            return "The slave refused the key: add the master's public key to the slave user's "
                + "authorized_keys (walmgr --init-slave --ssh-add-key FILE)"
        }
        if stderr.contains("Connection refused") || stderr.contains("timed out")
            || stderr.contains("No route") || stderr.contains("Could not resolve")
        {
            return
                "Is sshd running on \(host), and is the host/port in slave and ssh_options right? "
                + "PostgreSQL retries archiving; no WAL is lost meanwhile"
        }
        return "Check `ssh \(host) true` as the user walmgr runs as"
    }
}
