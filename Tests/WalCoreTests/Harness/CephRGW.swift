import Foundation
import Testing

@testable import WalCore

/// A throwaway single-node Ceph cluster (1 mon, 1 OSD, no mgr) with its RADOS Gateway on
/// 127.0.0.1: a real S3 server that checks SigV4, payload hashes and Content-MD5. The OSD keeps
/// objects in RAM (memstore, fast) or, for multi-GB tests, in a sparse file (bluestore).
///
/// Port of the verified recipe in ../shared/reference/s3 (start-ceph.sh, stop-ceph.sh).
/// Everything lives in its own scratch dir (conf, data, logs, sockets, pid files) with its own
/// ports, so clusters run side by side; /etc/ceph and /var/lib/ceph are never touched. Daemons
/// are stopped by their pid files, never by name.
final class CephRGW: @unchecked Sendable {
    /// True when the Ceph packages are installed (scripts/deps.sh installs them).
    static let isAvailable = [
        "/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw",
        "/usr/bin/radosgw-admin", "/usr/bin/monmaptool", "/usr/bin/ceph",
    ].allSatisfy {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    /// The test user's keys.
    static let accessKey = "walmgrtestaccesskey"
    static let secretKey = "walmgrtestsecretkey0123456789abcdefghij"

    /// The cluster directory.
    let dir: String
    /// The gateway's port.
    let port: Int
    /// The gateway's TLS port (a self-signed certificate for 127.0.0.1, ``caFile``).
    let tlsPort: Int
    /// The address the gateway listens on: the one given to ``start(netns:address:store:)``,
    /// else the slave address of ``netns``, else 127.0.0.1.
    var host: String { address ?? netns?.slaveAddress ?? "127.0.0.1" }
    private let address: String?
    /// The network namespace the whole cluster runs in (a separate "host"), or nil.
    let netns: NetNS?
    /// `http://HOST:PORT`.
    var endpoint: String { "http://\(host):\(port)" }
    /// `https://127.0.0.1:TLSPORT`.
    var tlsEndpoint: String { "https://127.0.0.1:\(tlsPort)" }
    /// The certificate the TLS port serves, to trust with `s3_ca_file`.
    var caFile: String { "\(dir)/tls/cert.pem" }
    /// Where the OSD keeps objects.
    let store: ObjectStore
    private var conf: String { "\(dir)/ceph.conf" }

    /// The OSD's object store.
    enum ObjectStore: String {
        /// Objects in RAM (up to 2 GiB here): starts in ~1.5 s.
        case memstore
        /// Objects in a sparse 8 GiB file in the cluster dir: RSS ~300 MB, starts in ~7 s.
        case bluestore
    }

    /// The cluster the current suite runs against (set by the ``CephRGWTrait`` scope).
    @TaskLocal static var current: CephRGW?

    private init(
        dir: String, port: Int, tlsPort: Int, netns: NetNS?, address: String?, store: ObjectStore
    ) {
        self.netns = netns
        self.address = address
        self.store = store
        self.dir = dir
        self.port = port
        self.tlsPort = tlsPort
    }

    /// Starts a cluster in a new scratch dir and creates the test user; stops what it started
    /// when a step fails. `address`: where the gateway listens instead (e.g. the master's veth
    /// address, which both hosts of a ``TwoHostLab`` reach).
    static func start(
        netns: NetNS? = nil, address: String? = nil, store: ObjectStore = .memstore
    ) async throws -> CephRGW {
        let rgw = CephRGW(
            dir: try TestEnv.scratchDir(prefix: "wmceph"), port: try TestEnv.freePort(),
            tlsPort: try TestEnv.freePort(), netns: netns, address: address, store: store)
        do {
            try await rgw.boot()
        } catch {
            let logs = rgw.logTail()
            rgw.stop()
            throw HarnessError("ceph: \(error)\n\(logs)")
        }
        return rgw
    }

    private func boot() async throws {
        for sub in ["run", "log", "mon.a", "osd.0", "rgw.a", "crash", "tls"] {
            try FileManager.default.createDirectory(
                atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
        try await TestEnv.run(
            Command(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", "\(dir)/tls/key.pem", "-out", caFile, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                ]))
        // The run-as user reads it as s3_ca_file.
        try TestEnv.chownToRunAsUser("\(dir)/tls", mode: 0o755)
        try TestEnv.chownToRunAsUser(caFile, mode: 0o644)
        let fsid = UUID().uuidString.lowercased()
        let monPort = try TestEnv.freePort()
        // The OSD binds anywhere in [osdPorts, osdPorts + 40]: a block outside the ephemeral
        // range, or it takes a port another test's PostgreSQL is about to listen on.
        let osdPorts = try TestEnv.freePortBlock(count: 41)
        try config(fsid: fsid, monPort: monPort, osdPorts: osdPorts)
            .write(toFile: conf, atomically: true, encoding: .utf8)
        try await ceph(
            "/usr/bin/monmaptool",
            [
                "--create", "--fsid", fsid, "--addv", "a", "[v2:127.0.0.1:\(monPort)]",
                "\(dir)/monmap",
            ], withConf: false)
        try await ceph("/usr/bin/ceph-mon", ["--mkfs", "-i", "a", "--monmap", "\(dir)/monmap"])
        try await ceph("/usr/bin/ceph-mon", ["-i", "a"])  // daemonizes: run/mon.a.pid
        let uuid = UUID().uuidString.lowercased()
        let id = try await ceph("/usr/bin/ceph", ["osd", "new", uuid], timeout: .seconds(60))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try await ceph("/usr/bin/ceph-osd", ["-i", id, "--mkfs", "--osd-uuid", uuid])
        try await ceph("/usr/bin/ceph-osd", ["-i", id])  // run/osd.0.pid
        try await waitUntil("the OSD is up", timeout: .seconds(60)) {
            try await ceph("/usr/bin/ceph", ["osd", "stat", "-f", "json"], timeout: .seconds(10))
                .contains("\"num_up_osds\":1")
        }
        try await ceph("/usr/bin/radosgw", ["-n", "client.rgw.a"])  // run/client.rgw.a.pid
        try await ceph(
            "/usr/bin/radosgw-admin",
            [
                "user", "create", "--uid=walmgr", "--display-name=walmgr",
                "--access-key=\(Self.accessKey)", "--secret-key=\(Self.secretKey)",
            ], timeout: .seconds(60))
        try await waitUntil("radosgw answers on \(endpoint)", timeout: .seconds(60)) {
            TestEnv.accepts(host: host, port: port) && TestEnv.accepts(host: host, port: tlsPort)
        }
    }

    /// Runs a Ceph tool with `-c ceph.conf`; returns stdout.
    @discardableResult
    private func ceph(
        _ tool: String, _ args: [String], withConf: Bool = true, timeout: Duration = .seconds(60)
    ) async throws -> String {
        let argv = (netns?.launcher ?? []) + [tool] + (withConf ? ["-c", conf] + args : args)
        return try await TestEnv.run(Command(argv: argv), timeout: timeout)
    }

    /// scripts/ceph.conf.in (the benches read it too) with this cluster's values.
    private func config(fsid: String, monPort: Int, osdPorts: Int) throws -> String {
        let template = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../scripts/ceph.conf.in").standardized.path
        let values = [
            "FSID": fsid, "MON_PORT": "\(monPort)", "PORT_MIN": "\(osdPorts)",
            "PORT_MAX": "\(osdPorts + 40)", "DIR": dir, "OBJECTSTORE": store.rawValue,
            "MEMSTORE_BYTES": "2147483648",
            "RGW_FRONTENDS": "beast endpoint=\(host):\(port) ssl_endpoint=\(host):\(tlsPort) "
                + "ssl_certificate=\(caFile) ssl_private_key=\(dir)/tls/key.pem",
        ]
        return values.reduce(try String(contentsOfFile: template, encoding: .utf8)) {
            $0.replacingOccurrences(of: "@\($1.key)@", with: $1.value)
        }
    }

    /// The last lines of every daemon log, for failure messages.
    func logTail() -> String {
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/log")) ?? []
        return logs.sorted().compactMap { name in
            guard let text = try? String(contentsOfFile: "\(dir)/log/\(name)", encoding: .utf8)
            else { return nil }
            return "== \(name)\n" + text.split(separator: "\n").suffix(10).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Every log file's text (for the test that greps for the secret).
    func allLogs() -> String {
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/log")) ?? []
        return logs.compactMap { try? String(contentsOfFile: "\(dir)/log/\($0)", encoding: .utf8) }
            .joined(separator: "\n")
    }

    /// Stops rgw, osd, mon (in that order: the OSD waits for a dead mon otherwise) by their pid
    /// files, then removes the directory.
    func stop() {
        for name in ["client.rgw.a", "osd.0", "mon.a"] {
            guard let text = try? String(contentsOfFile: "\(dir)/run/\(name).pid", encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
            else { continue }
            TestEnv.terminate(pid, signal: SIGTERM, timeout: .seconds(20))
        }
        TestEnv.removeScratch(dir)
    }
}

/// Starts one Ceph RGW for a whole suite and stops it afterwards, also when a test fails.
struct CephRGWTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let rgw = try await CephRGW.start()
        defer { rgw.stop() }
        try await CephRGW.$current.withValue(rgw) { try await function() }
    }
}

extension Trait where Self == CephRGWTrait {
    /// Runs the suite against its own Ceph RGW.
    static var cephRGW: Self { Self() }
}
