import Foundation

/// `xarchive PATH NAME`: PostgreSQL's archive_command. Exit 0 only once the file is durable.
enum XArchive {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let name = try WALName.validate(context.arguments[1])
        guard case .master(let config) = context.config else { return 1 }
        let source = context.arguments[0]
        let log = context.log
        if access(MasterStop.stopFile(config), F_OK) == 0 {
            throw WalmgrFailure(
                "not archiving \(name): archiving was paused with `walmgr stop` "
                    + "(\(MasterStop.stopFile(config)) exists). PostgreSQL keeps the WAL and retries; "
                    + "run `walmgr \(config.common.configFile) setup` to resume")
        }
        let started = ContinuousClock.now
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ArchiveError.sourceUnreadable(path: source, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        if context.notReally {
            log.info("would archive \(name) (\(st.st_size) bytes) to \(config.common.completedWals)")
            return 0
        }
        let target = Location(config.common.completedWals)
        let result: Durable.StoreResult
        if config.slave.map(Location.isLocalHost) == false || target.host != nil {
            let link = try SlaveLink(config: config, invocation: context.invocation)
            let reply = try await link.run(
                "xreceive", [name.name, String(st.st_size)], input: .fileDescriptor(fd),
                runner: context.runner)
            result = reply.output.contains("already present") ? .alreadyPresent : .stored
        } else {
            result = try WALStore(directory: target.path).store(name, from: fd, size: Int(st.st_size))
        }
        let ms = (ContinuousClock.now - started).milliseconds
        switch result {
        case .stored: log.info("archived \(name) to \(target) in \(ms) ms")
        case .alreadyPresent: log.info("\(name) is already archived with identical content")
        }
        ShippingState.recordShipped(name, dataDir: config.masterData, log: log)
        await ShippingState.runPeriodic(config: config, context: context)
        return 0
    }
}

extension Duration {
    /// Whole milliseconds, for log lines.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
