import Foundation

/// `xarchive PATH NAME`: PostgreSQL's archive_command. Exit 0 only once the file is durable.
enum XArchive {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let name = try WALName.validate(context.arguments[1])
        guard case .master(let config) = context.config else { return 1 }
        let source = context.arguments[0]
        let log = context.log
        try checkNotStopped(name, config: config)
        let started = ContinuousClock.now
        let (fd, size) = try openSource(source)
        defer { close(fd) }
        try checkSegmentSize(name, size: size, source: source)
        if context.notReally {
            log.info("would archive \(name) (\(size) bytes) to \(config.common.completedWals)")
            return 0
        }
        let result = try await store(name, fd: fd, size: size, config: config, context: context)
        let ms = (ContinuousClock.now - started).milliseconds
        switch result {
        case .stored:
            let stored = "\(name)\(config.common.compressMethod.suffix)"
            log.info("archived \(stored) to \(config.common.completedWals) in \(ms) ms")
        case .alreadyPresent: log.info("\(name) is already archived with identical content")
        }
        ShippingState.recordShipped(name, dataDir: config.masterData, log: log)
        await ShippingState.runPeriodic(config: config, context: context)
        return 0
    }

    /// Opens the file PostgreSQL (or setup, for a history file) hands over; the caller closes it.
    static func openSource(_ source: String) throws -> (fd: Int32, size: Int) {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ArchiveError.sourceUnreadable(
                path: source, reason: String(cString: strerror(errno)))
        }
        var st = stat()
        fstat(fd, &st)
        return (fd, Int(st.st_size))
    }

    /// Fails while `walmgr stop` has paused archiving: PostgreSQL keeps the WAL and retries.
    static func checkNotStopped(_ name: WALName, config: MasterConfig) throws {
        guard access(MasterStop.stopFile(config), F_OK) == 0 else { return }
        throw WalmgrFailure(
            "not archiving \(name): archiving was paused with `walmgr stop` "
                + "(\(MasterStop.stopFile(config)) exists). PostgreSQL keeps the WAL and retries; "
                + "run `walmgr \(config.common.configFile) setup` to resume")
    }

    /// Stores the file, compressed as configured, where completed_wals says: a bucket, the
    /// slave over ssh, or a directory on this host.
    static func store(
        _ name: WALName, fd: Int32, size: Int, config: MasterConfig, context: CommandContext
    ) async throws -> Durable.StoreResult {
        let common = config.common
        let target = config.location(of: common.completedWals)
        let method = common.compressMethod
        let level = try WALCodec.level(method, common.compressLevel, configFile: common.configFile)
        let threads = try WALCodec.threads(common.compressThreads, configFile: common.configFile)
        if let repository = try S3Repository(common.completedWals) {
            return try S3WAL.archive(
                name, fd: fd, size: size, method: method, level: level, threads: threads,
                settings: common.s3, repository: repository)
        }
        if target.host != nil {
            return try await sendToSlave(
                name, fd: fd, size: size, method: method, level: level, threads: threads,
                context: context, config: config)
        }
        return try WALStore(directory: target.path).store(
            name, from: fd, size: size, method: method, level: level, threads: threads)
    }

    /// Runs `xreceive` on the slave with the file on stdin; compressed here first, so only
    /// compressed bytes cross the wire.
    static func sendToSlave(
        _ name: WALName, fd: Int32, size: Int, method: CompressMethod, level: Int, threads: Int,
        context: CommandContext, config: MasterConfig
    ) async throws -> Durable.StoreResult {
        let link = try SlaveLink(config: config, invocation: context.invocation)
        let reply: ProcessResult
        if method == .none {
            reply = try await link.run(
                "xreceive", [name.name, String(size)], input: .fileDescriptor(fd),
                runner: context.runner)
        } else {
            // Compressed into an in-memory file, which ssh then reads as its stdin.
            let compressed = try WALCodec.compressedInMemory(
                method, level: level, threads: threads, from: fd, size: size, name: name.name)
            defer { close(compressed.fd) }
            let stored = ArchivedWAL(name: name, method: method)
            reply = try await link.run(
                "xreceive", [stored.fileName, String(compressed.size)],
                input: .fileDescriptor(compressed.fd), runner: context.runner)
        }
        return reply.output.contains("already present") ? .alreadyPresent : .stored
    }
}

extension XArchive {
    /// A segment is a power of two from 1 MiB to 1 GiB (`--wal-segsize`); anything else is not
    /// WAL PostgreSQL wrote, e.g. a wrong %p, and is not archived under a segment's name.
    static func checkSegmentSize(_ name: WALName, size: Int, source: String) throws {
        guard name.kind == .segment else { return }
        guard size > 0, WALSegment.isValidSize(UInt64(size)) else {
            throw WalmgrFailure(
                "not archiving \(source) as \(name): it is \(size) bytes, and a WAL segment is a "
                    + "power of two from 1 MiB to 1 GiB. archive_command must pass %p and %f")
        }
        guard WALSegment(name: name.name, size: UInt64(size)) != nil else {
            throw WalmgrFailure(
                "not archiving \(source) as \(name): with \(size)-byte segments the last 8 "
                    + "hex digits must be below \(WALSegment.hex8(WALSegment.perLog(UInt64(size))))"
                    + "; PostgreSQL never writes this name. archive_command must pass %p and %f")
        }
    }
}

extension Duration {
    /// Whole milliseconds, for log lines.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
