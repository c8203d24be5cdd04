/// `xreceive NAME SIZE` (slave): store one WAL file from stdin in completed_wals; used by xarchive.
enum XReceive {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let name = try WALName.validate(context.arguments[0])
        guard let size = Int(context.arguments[1]), size >= 0 else {
            throw WalmgrFailure("xreceive: SIZE must be a byte count, got \(context.arguments[1])")
        }
        let store = WALStore(directory: context.config.common.completedWals)
        switch try store.store(name, from: 0, size: size) {
        case .stored:
            context.log.debug("received \(name) (\(size) bytes)")
        case .alreadyPresent:
            context.log.info("\(name) is already archived with identical content")
            print("already present")
        }
        return 0
    }
}
