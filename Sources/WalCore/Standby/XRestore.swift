import Foundation

/// `xrestore NAME PATH [RESTARTPOINT]` (slave): PostgreSQL's restore_command.
///
/// It runs once per segment during recovery, so it stays cheap: no database connection, no
/// subprocess, one small header read. A missing file exits 1 at once and quietly: PostgreSQL
/// asks for files that will never exist (the next timeline's `.history`, segments past the
/// end) and a 12+ standby then switches to streaming by itself.
enum XRestore {
    /// How long xrestore waits while PAUSE exists before letting PostgreSQL retry.
    static let pauseLimit: Duration = .seconds(10)
    /// How often it looks at PAUSE again.
    static let pausePoll: Duration = .milliseconds(200)

    static func run(_ context: CommandContext) async throws -> Int32 {
        let name = try WALName.validate(context.arguments[0])
        let target = context.arguments[1]
        let files = StandbyFiles(context.config.common)
        guard await waitWhilePaused(files) else {
            context.log.info("replay is paused (\(files.pauseFile) exists); \(name) not handed out")
            return 1
        }
        if let repository = try S3Repository(files.completedWals) {
            let common = context.config.common
            if let size = try S3WAL.restore(
                name, to: target, preferring: common.compressMethod, settings: common.s3,
                repository: repository)
            {
                context.log.debug("restored \(name) (\(size) bytes) from \(repository)")
                return 0
            }
        }
        let inS3 = S3Repository.isS3(files.completedWals)
        guard let source = inS3 ? locatePartial(name, files) : locate(name, files) else {
            context.log.debug("\(name) is not in \(files.completedWals)")
            return 1
        }
        if source.path.hasPrefix("\(files.partialWals)/"),
            let reason = PartialGuard.refusal(
                partial: source.path, name: name, stopFile: files.stopFile, target: target)
        {
            context.log.info("not serving \(source.path): \(reason); PostgreSQL keeps its own copy")
            return 1
        }
        let size =
            source.method == .none
            ? try deliver(source.path, name: name, to: target)
            : try deliverDecompressed(source, name: name, to: target)
        context.log.debug("restored \(name) (\(size) bytes) from \(source.path)")
        return 0
    }

    /// Waits (bounded) while the PAUSE file exists; false when it is still there.
    static func waitWhilePaused(_ files: StandbyFiles, limit: Duration = pauseLimit) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while StandbyFiles.exists(files.pauseFile) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: pausePoll)
        }
        return true
    }

    /// The file to hand out: completed_wals first (plain, then `.zst`, then `.lz4`);
    /// partial_wals only after boot wrote STOP.
    static func locate(_ name: WALName, _ files: StandbyFiles) -> ArchivedFile? {
        if let stored = ArchivedWAL.find(name, in: files.completedWals).first {
            return ArchivedFile(
                path: "\(files.completedWals)/\(stored.fileName)", method: stored.method)
        }
        return locatePartial(name, files)
    }

    /// A segment in partial_wals, once boot wrote STOP.
    static func locatePartial(_ name: WALName, _ files: StandbyFiles) -> ArchivedFile? {
        guard name.kind == .segment, StandbyFiles.exists(files.stopFile) else { return nil }
        for candidate in [name.name, name.name + ".partial"] {
            let path = "\(files.partialWals)/\(candidate)"
            if StandbyFiles.exists(path) { return ArchivedFile(path: path, method: .none) }
        }
        return nil
    }

    /// Copies `source` to `target` through a temp file in the target's directory, then renames.
    ///
    /// No fsync: PostgreSQL fsyncs a restored file itself before it keeps it
    /// (KeepFileRestoredFromArchive → durable_rename) and deletes it otherwise, so a crash
    /// before then only costs a second copy.
    /// - Returns: the bytes copied.
    static func deliver(_ source: String, name: WALName, to target: String) throws -> Int {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileError("open", source) }
        defer { close(input) }
        var st = stat()
        guard fstat(input, &st) == 0 else { throw FileError("stat", source) }
        let size = Int(st.st_size)
        if name.kind == .segment,
            let reason = SegmentCheck.problem(fd: input, name: name, size: size)
        {
            throw StandbyError.badSegment(path: source, reason: reason)
        }
        let tmp = Durable.tempPath(for: target)
        let output = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw FileError("create", tmp) }
        do {
            defer { close(output) }
            // No writeback: PostgreSQL reads the file at once and removes it after replay.
            let copied = try Durable.copy(
                from: input, to: output, sourcePath: source, path: tmp, writeback: false)
            guard copied == size else {
                throw StandbyError.badSegment(
                    path: source, reason: "only \(copied) of \(size) bytes could be read")
            }
        } catch {
            unlink(tmp)
            throw error
        }
        guard rename(tmp, target) == 0 else {
            let error = FileError("rename \(tmp) to", target)
            unlink(tmp)
            throw error
        }
        return size
    }
}
