import Foundation

/// `cleanup [--yes]` (slave): remove walmgr_data, old data dirs, and the authorized_keys and
/// .pgpass lines `--init-slave` added (as recorded in `walmgr_data/.walmgr-init-added`).
enum Cleanup {
    /// The record `--init-slave` keeps of lines it added: `kind<TAB>file<TAB>line`.
    static let initRecordName = ".walmgr-init-added"

    /// What cleanup would remove.
    struct Plan {
        var directories: [String] = []
        /// walmgr's own files left in a walmgr_data that stays (see ``notes``).
        var files: [String] = []
        /// Why something that looks like walmgr's is kept (walmgr_data is the home dir, …).
        var notes: [String] = []
        /// (file, line) pairs added by init.
        var lines: [(String, String)] = []
        /// The replication slot on the master (`use_replication_slot`).
        var slot: String?
        var isEmpty: Bool {
            directories.isEmpty && files.isEmpty && lines.isEmpty && slot == nil
        }
    }

    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .slave(let config) = context.config else { return 1 }
        let log = context.log
        let plan = try makePlan(config)
        for note in plan.notes { log.info(note) }
        guard !plan.isEmpty else {
            log.info("nothing to clean up")
            return 0
        }
        let listing =
            plan.directories.map { "  directory \($0)" } + plan.files.map { "  file \($0)" }
            + plan.lines.map { "  line in \($0.0): \(masked($0.1))" }
            + (plan.slot.map { ["  replication slot \($0) on the master (master_db)"] } ?? [])
        if context.notReally {
            log.info("would remove:\n" + listing.joined(separator: "\n"))
            return 0
        }
        guard try confirmed(listing, yes: context.has("--yes")) else {
            log.info("nothing removed")
            return 1
        }
        // Not while a restore copies into slave_data's staging dir, which cleanup removes.
        let lock =
            config.slaveData.isEmpty
            ? nil : try Restore.lock(TargetGuard.trimmingSlashes(config.slaveData))
        defer { lock?.release() }
        if StandbyServer(config, runner: context.runner, log: log).runningPID != nil {
            log.warning("the standby is running; its restore_command will find no more WAL")
        }
        if plan.slot != nil { _ = try await ReplicationSlots.dropForCleanup(config, log: log) }
        try perform(plan, log: log)
        return 0
    }

    /// Removes the plan's lines, files and directories (the slot is dropped before).
    static func perform(_ plan: Plan, log: Log) throws {
        // Again after the prompt, before the first removal: a server may have been started
        // in one of the directories while cleanup waited for the answer.
        for dir in plan.directories {
            try TargetGuard(keep: []).checkNotRunning(dir, purpose: "cleanup")
        }
        for (file, line) in plan.lines where try removeLine(line, from: file) {
            log.info("removed the line init added to \(file)")
        }
        for file in plan.files {
            try StandbyFiles.remove(file)
            log.info("removed \(file)")
        }
        for dir in plan.directories {
            try TreeRemoval.remove(dir)
            log.info("removed \(dir)")
        }
    }

    /// Asks on a terminal; without one, `--yes` is required.
    static func confirmed(_ listing: [String], yes: Bool) throws -> Bool {
        if yes { return true }
        guard isatty(0) == 1 else {
            throw WalmgrFailure(
                "cleanup removes:\n" + listing.joined(separator: "\n")
                    + "\nstdin is not a terminal: pass --yes to confirm (walmgr CONFIG cleanup --yes)"
            )
        }
        print(
            "cleanup removes:\n" + listing.joined(separator: "\n") + "\nProceed? [y/N] ",
            terminator: "")
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased()
        return answer == "y" || answer == "yes"
    }

    /// Removes every line equal to `line` from `path`; true when one was removed.
    static func removeLine(_ line: String, from path: String) throws -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let kept = lines.filter { $0 != line }
        guard kept.count != lines.count else { return false }
        try Durable.replace(Array(kept.joined(separator: "\n").utf8), at: path, mode: 0o600)
        return true
    }

    /// A .pgpass line without its password (the fifth field).
    static func masked(_ line: String) -> String {
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count >= 5 else { return line }
        return fields.prefix(4).joined(separator: ":") + ":" + Conninfo.mask
    }
}
