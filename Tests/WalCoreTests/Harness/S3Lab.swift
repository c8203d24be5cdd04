import Foundation

@testable import WalCore

/// A bucket on the suite's Ceph RGW, a credentials file walmgr's user may read, and the ini
/// lines that point completed_wals at it.
struct S3Lab {
    let rgw: CephRGW
    let bucket: String
    let scratch: String
    /// A 0600 credentials file owned by the run-as user.
    let credentialsFile: String

    /// Creates a bucket (`walmgr-<tag>-<random>`) and a credentials file in `scratch`.
    init(scratch: String, tag: String, rgw given: CephRGW? = nil) async throws {
        guard let rgw = given ?? CephRGW.current else {
            throw HarnessError("no Ceph RGW: the suite needs the .cephRGW trait")
        }
        self.rgw = rgw
        self.scratch = scratch
        bucket = "walmgr-\(tag)-\(UInt32.random(in: 0...UInt32.max))"
        credentialsFile = "\(scratch)/s3.credentials"
        try Self.writeCredentials(
            credentialsFile, key: CephRGW.accessKey, secret: CephRGW.secretKey)
        let client = try S3Client(settings: settings(), repository: S3Repository("s3://\(bucket)")!)
        let made = try client.send("PUT", "")
        guard made.status == 200 else {
            throw HarnessError("cannot create bucket \(bucket): HTTP \(made.status)")
        }
    }

    /// Writes an owner-only credentials file for walmgr's user.
    static func writeCredentials(_ path: String, key: String, secret: String) throws {
        try "[default]\naws_access_key_id = \(key)\naws_secret_access_key = \(secret)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        try TestEnv.chownToRunAsUser(path, mode: 0o600)
    }

    /// The s3 settings the ini lines below give.
    func settings(credentials: String? = nil) -> S3Settings {
        S3Settings(endpoint: rgw.endpoint, credentialsFile: credentials ?? credentialsFile)
    }

    /// Ini lines: completed_wals in this bucket under `prefix`, plus the s3_* keys.
    func iniLines(prefix: String = "wal", credentials: String? = nil, endpoint: String? = nil)
        -> String
    {
        "completed_wals = s3://\(bucket)/\(prefix)\ns3_endpoint = \(endpoint ?? rgw.endpoint)\n"
            + "s3_region = us-east-1\ns3_uri_style = path\n"
            + "s3_credentials_file = \(credentials ?? credentialsFile)\n"
    }

    /// The objects' keys under `prefix` (every page of ListObjectsV2), sorted.
    func keys(prefix: String = "wal") throws -> [String] {
        let client = try S3Client(settings: settings(), repository: S3Repository("s3://\(bucket)")!)
        return try client.list(prefix: prefix).map(\.key).sorted()
    }

    /// A WAL segment of 16 MiB whose header matches `name` (timeline 1), filled with `fill`.
    static func fakeSegment(_ name: WALName, fill: UInt8) throws -> [UInt8] {
        let size = 16 << 20
        var bytes = [UInt8](repeating: fill, count: size)
        guard let segment = WALSegment(name: name.name, size: UInt64(size)) else {
            throw HarnessError("\(name) is not a segment name")
        }
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(0xD118, at: 0, width: 2)
        put(UInt64(SegmentCheck.longHeaderFlag), at: 2, width: 2)
        put(1, at: 4, width: 4)
        put(segment.number * UInt64(size), at: 8, width: 8)
        put(UInt64(size), at: 32, width: 4)
        return bytes
    }

    /// The regular files under `dir` whose bytes contain `needle` (symlinks are not followed).
    static func files(containing needle: String, under dir: String) throws -> [String] {
        let pattern = Data(needle.utf8)
        guard let walk = FileManager.default.enumerator(atPath: dir) else { return [] }
        var found: [String] = []
        while let relative = walk.nextObject() as? String {
            let path = "\(dir)/\(relative)"
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            if data.range(of: pattern) != nil { found.append(path) }
        }
        return found.sorted()
    }
}
