import Foundation

/// The pure parts of the master's settings checks, so unit tests can feed them values.
extension MasterCheck {
    static func archiveMode(_ value: String, ini: String) -> CheckResult {
        guard value == "on" || value == "always" else {
            return .fail(
                "archive_mode", "archive_mode = \(value.isEmpty ? "(unknown)" : value)",
                fix: "walmgr \(ini) setup, then restart PostgreSQL")
        }
        return .pass("archive_mode", value)
    }

    static func walLevel(_ value: String) -> CheckResult {
        guard value == "replica" || value == "logical" else {
            return .fail(
                "wal_level", "wal_level = \(value): archived WAL cannot rebuild a standby",
                fix: "set wal_level = replica (walmgr setup does) and restart PostgreSQL")
        }
        return .pass("wal_level", value)
    }

    /// archive_command must run this walmgr with this ini (paths compared after resolving
    /// symlinks), and archive_library must be empty.
    static func archiveCommand(live: String, library: String, expected: String, ini: String)
        -> CheckResult
    {
        let fix = "walmgr \(ini) setup (it writes archive_command = '\(expected)')"
        guard library.isEmpty else {
            return .fail(
                "archive_command",
                "archive_library = '\(library)' is set, so PostgreSQL ignores "
                    + "archive_command (16+ refuses to archive with both)",
                fix: "ALTER SYSTEM RESET archive_library; then \(fix)")
        }
        guard !live.isEmpty else {
            return .fail(
                "archive_command", "archive_command is empty: nothing is archived", fix: fix)
        }
        if live == expected { return .pass("archive_command", live) }
        let words = ((try? ShellWords.split(live)) ?? []).map {
            $0.replacingOccurrences(of: "%%", with: "%")
        }
        let wanted = ((try? ShellWords.split(expected)) ?? []).map {
            $0.replacingOccurrences(of: "%%", with: "%")
        }
        guard words.count == 5, words[2...] == ["xarchive", "%p", "%f"] else {
            return .fail(
                "archive_command", "archive_command = '\(live)' does not run walmgr xarchive %p %f",
                fix: fix)
        }
        if resolved(words[0]) != resolved(wanted[0]) {
            return .fail(
                "archive_command",
                "archive_command runs \(words[0]), not this walmgr "
                    + "(\(wanted[0]))", fix: fix)
        }
        if resolved(words[1]) != resolved(wanted[1]) {
            return .fail(
                "archive_command", "archive_command uses \(words[1]), not this ini (\(wanted[1]))",
                fix: fix)
        }
        return .pass("archive_command", live)
    }

    static func pendingRestart(_ names: [String], restart: [String]?) -> CheckResult {
        guard names.isEmpty else {
            let how = restart.map { "run \(ShellWords.join($0))" } ?? "restart PostgreSQL"
            return .fail(
                "pending_restart",
                "\(names.sorted().joined(separator: ", ")) changed but not "
                    + "active until a restart", fix: how)
        }
        return .pass("pending_restart", "no setting waits for a restart")
    }

    /// The canonical path (symlinks resolved), or the path itself when it does not exist.
    static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
