/// `xreceive NAME[.zst|.lz4] SIZE` (slave): store one WAL file from stdin in completed_wals;
/// used by xarchive. A suffix means the bytes are already compressed and are stored as they are.
enum XReceive {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let stored = try ArchivedWAL.validate(context.arguments[0])
        let name = stored.name
        guard let size = Int(context.arguments[1]), size >= 0 else {
            throw WalmgrFailure("xreceive: SIZE must be a byte count, got \(context.arguments[1])")
        }
        let store = WALStore(directory: context.config.common.completedWals)
        switch try store.store(
            name, from: 0, size: size, method: stored.method, encoded: true)
        {
        case .stored:
            context.log.debug("received \(stored) (\(size) bytes)")
        case .alreadyPresent:
            context.log.info("\(name) is already archived with identical content")
            print("already present")
        }
        return 0
    }
}
