import Foundation

/// `setup` (slave): create walmgr_data's directories with mode 0700.
enum SlaveSetup {
    static func run(_ context: CommandContext) async throws -> Int32 {
        let common = context.config.common
        // An s3:// completed_wals is a bucket, not a directory to make.
        for dir in [common.completedWals, common.partialWals, common.configBackup]
        where !S3Repository.isS3(dir) {
            try Directories.make(dir, notReally: context.notReally, log: context.log)
        }
        if let base = common.walmgrData, !base.isEmpty {
            try Directories.make(base, notReally: context.notReally, log: context.log)
        }
        return 0
    }
}

/// Creating private directories, with errors that name owner and mode.
enum Directories {
    /// `mkdir -p` with mode 0700 for every created level.
    static func make(_ path: String, notReally: Bool = false, log: Log? = nil) throws {
        guard !path.isEmpty else { return }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw FileError("use", path, errno: ENOTDIR, hint: "it is a file; move it away")
            }
            return
        }
        if notReally {
            log?.info("would create \(path)")
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try make(parent) }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw FileError.mkdirFailed(path)
        }
        log?.info("created \(path)")
    }
}
