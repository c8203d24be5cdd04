import Foundation

extension CompressMethod {
    /// The suffix a stored file name gets: "", ".zst" or ".lz4".
    public var suffix: String {
        switch self {
        case .none: return ""
        case .zstd: return ".zst"
        case .lz4: return ".lz4"
        }
    }
}

/// A WAL file as stored in completed_wals: the WAL name plus how it is compressed.
///
/// Every reader of completed_wals (xrestore, purge, the backup WAL check, status) goes through
/// this type so the suffix rule lives in one place.
public struct ArchivedWAL: Sendable, Hashable, CustomStringConvertible {
    /// The WAL file name PostgreSQL knows.
    public let name: WALName
    /// How the stored copy is compressed.
    public let method: CompressMethod

    /// Creates a stored name.
    public init(name: WALName, method: CompressMethod) {
        self.name = name
        self.method = method
    }

    /// Parses a stored file name (`NAME`, `NAME.zst`, `NAME.lz4`); nil for anything else.
    public init?(fileName: String) {
        for method in CompressMethod.allCases where method != .none {
            if fileName.hasSuffix(method.suffix),
                let wal = WALName(String(fileName.dropLast(method.suffix.count)))
            {
                self.init(name: wal, method: method)
                return
            }
        }
        guard let wal = WALName(fileName) else { return nil }
        self.init(name: wal, method: .none)
    }

    /// Validates a stored file name, or throws the WAL name error for it.
    public static func validate(_ fileName: String) throws(WALNameError) -> ArchivedWAL {
        guard let stored = ArchivedWAL(fileName: fileName) else {
            throw WALNameError(name: fileName)
        }
        return stored
    }

    /// Validates a command's WAL name argument: only `xreceive` accepts a stored (suffixed) name.
    public static func validate(_ argument: String, command: String) throws(WALNameError)
        -> ArchivedWAL
    {
        command == "xreceive"
            ? try validate(argument)
            : ArchivedWAL(name: try WALName.validate(argument), method: .none)
    }

    /// Every suffix a stored name may carry, "" included.
    public static let suffixes = CompressMethod.allCases.map(\.suffix)

    /// The file name in completed_wals.
    public var fileName: String { name.name + method.suffix }

    public var description: String { fileName }

    /// The stored copies of `name` in `directory`, uncompressed first.
    public static func find(_ name: WALName, in directory: String) -> [ArchivedWAL] {
        CompressMethod.allCases.compactMap { method in
            let stored = ArchivedWAL(name: name, method: method)
            return access("\(directory)/\(stored.fileName)", F_OK) == 0 ? stored : nil
        }
    }

    /// The WAL names present in `directory` (each once, whatever its suffixes).
    public static func names(in directory: String) throws -> Set<WALName> {
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        return Set(entries.compactMap { ArchivedWAL(fileName: $0)?.name })
    }
}
