import Foundation

/// Where sync puts bytes: `partial_wals` directly when it is on this machine, else the slave's
/// `xpartialsync` over the reused ssh connection.
struct PartialTarget {
    let link: SlaveLink?
    let directory: String
    let runner: any ProcessRunning
    /// One remote write may take this long before it counts as a network fault.
    static let timeout: Duration = .seconds(120)

    init(config: MasterConfig, context: CommandContext) throws {
        let location = config.location(of: config.common.partialWals)
        directory = location.path
        runner = context.runner
        link =
            location.host != nil
            ? try SlaveLink(config: config, invocation: context.invocation) : nil
    }

    /// Writes `bytes` at `offset` of segment `name` on the slave.
    func send(_ name: String, offset: UInt64, bytes: [UInt8], segmentSize: UInt64) async throws {
        if let link {
            try await link.run(
                "xpartialsync", [name, "\(offset)", "\(bytes.count)", "\(segmentSize)"],
                input: .bytes(bytes), runner: runner, timeout: Self.timeout)
        } else {
            try PartialStore.write(
                try WALName.validate(name), offset: offset, bytes: bytes,
                segmentSize: segmentSize, directory: directory)
        }
    }
}

extension SyncSession {
    /// File mode: the database is unreachable (or use_xlog_functions = 0), so ship whole the
    /// newest segments in pg_wal past `.walshipping.last`, each only when it changed.
    ///
    /// A recycled segment file still carries its old header; it is skipped because its header
    /// address does not match its name. Stale bytes after the real write position are harmless:
    /// their page headers name an older segment and recovery stops there.
    func fileRound() async throws -> SyncReport {
        let walDir = Self.walDirectory(config.masterData)
        let last = ShippingState.lastShipped(dataDir: config.masterData)?.name ?? ""
        let names = try FileManager.default.contentsOfDirectory(atPath: walDir)
            .filter { WALName($0)?.kind == .segment && $0 > last }
            .sorted().suffix(Int(Self.catchUpLimit))
        var report = SyncReport(
            mode: .file, name: names.last ?? "-", offset: 0, bytes: 0, pieces: 0, milliseconds: 0)
        for name in names {
            let path = "\(walDir)/\(name)"
            var st = stat()
            guard stat(path, &st) == 0, let size = Self.wholeSegmentSize(path, name: name) else {
                continue
            }
            let stamp = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
            if fileModeSent[name] == stamp { continue }
            let bytes = try WALFileReader.read(path, from: 0, to: size)
            try await target.send(name, offset: 0, bytes: bytes, segmentSize: size)
            fileModeSent[name] = stamp
            report.bytes += bytes.count
            report.pieces += 1
            report.offset = size
        }
        return report
    }

    /// `pg_wal`, or `pg_xlog` before PostgreSQL 10 (from PG_VERSION).
    static func walDirectory(_ dataDir: String) -> String {
        let text = try? String(contentsOfFile: "\(dataDir)/PG_VERSION", encoding: .utf8)
        let version = text.flatMap { ServerVersion(pgVersionFile: $0) }
        return "\(dataDir)/\(version?.walDirName ?? "pg_wal")"
    }

    /// The segment size when the file's header belongs to `name`; nil for a recycled file.
    static func wholeSegmentSize(_ path: String, name: String) -> UInt64? {
        guard let bytes = try? WALFileReader.read(path, from: 0, to: 40),
            let header = SegmentCheck.header(bytes), let wal = WALName(name),
            SegmentCheck.problem(header, name: wal) == nil
        else { return nil }
        return header.segmentSize
    }
}
