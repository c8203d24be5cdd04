import Foundation
import WalCore

/// Two network "hosts" for fault tests: the root namespace (the master) and a private network
/// namespace (the slave), joined by a veth pair with addresses in `10.213.X.0/30`.
///
/// The subnet is private to the test: nothing else on the machine uses it, and only the
/// namespace and loopback ever receive traffic. `destroy()` (also run by `deinit`) deletes the
/// namespace, which removes both veth ends; namespaces left by a crashed run (named after a
/// PID that is gone) are swept on the next start.
final class NetNS {
    /// Where iproute2 lives.
    static let ip = "/usr/sbin/ip"
    /// Namespaces this harness makes start with this, followed by the creating PID.
    static let prefix = "walmgr-test-"
    /// True when namespaces can be made here: root and iproute2.
    static let isAvailable = TestEnv.isRoot && FileManager.default.isExecutableFile(atPath: ip)

    /// The namespace's name.
    let name: String
    /// The veth end in the root namespace (the master's side); cut it to cut the link.
    let hostSide: String
    /// The third octet of `10.213.X.0/30`.
    let subnet: Int
    /// The master's address (root namespace).
    var masterAddress: String { "10.213.\(subnet).1" }
    /// The slave's address (inside the namespace).
    var slaveAddress: String { "10.213.\(subnet).2" }
    private var removed = false

    /// Creates the namespace and the veth pair, and brings both ends and the namespace's
    /// loopback up.
    init() async throws {
        Self.sweepStale()
        subnet = try Self.freeSubnet()
        let pid = getpid()
        name = "\(Self.prefix)\(pid)-\(subnet)"
        hostSide = "wmh\(pid % 100_000)x\(subnet)"
        let peer = "wms\(pid % 100_000)x\(subnet)"
        do {
            try await Self.ipRun(["netns", "add", name])
            try await Self.ipRun(["link", "add", hostSide, "type", "veth", "peer", "name", peer])
            try await Self.ipRun(["link", "set", peer, "netns", name])
            try await Self.ipRun(["addr", "add", "\(masterAddress)/30", "dev", hostSide])
            try await Self.ipRun(["link", "set", hostSide, "up"])
            try await inside(["addr", "add", "\(slaveAddress)/30", "dev", peer])
            try await inside(["link", "set", peer, "up"])
            try await inside(["link", "set", "lo", "up"])
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    /// The argv prefix that runs a program inside the namespace.
    var launcher: [String] { [Self.ip, "netns", "exec", name] }

    /// Brings the master's end of the link down (packets are dropped, the route disappears) or up.
    func setLink(up: Bool) async throws {
        try await Self.ipRun(["link", "set", hostSide, up ? "up" : "down"])
    }

    /// Deletes the namespace (and with it the veth pair); safe to call twice.
    func destroy() {
        guard !removed else { return }
        removed = true
        TestEnv.runQuietly([Self.ip, "netns", "delete", name])
        TestEnv.runQuietly([Self.ip, "link", "delete", hostSide])
    }

    private func inside(_ arguments: [String]) async throws {
        try await Self.ipRun(["-n", name] + arguments)
    }

    private static func ipRun(_ arguments: [String]) async throws {
        try await TestEnv.run(Command(ip, arguments), timeout: .seconds(30))
    }

    /// The names of every network namespace on the machine.
    private static func namespaces() -> [String] {
        guard let list = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else {
            return []
        }
        return list
    }

    /// Deletes this harness's namespaces whose creating process is gone.
    private static func sweepStale() {
        for ns in namespaces() where ns.hasPrefix(prefix) {
            let rest = ns.dropFirst(prefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ pid_t($0) }),
                TestEnv.processGone(pid)
            else { continue }
            TestEnv.runQuietly([ip, "netns", "delete", ns])
        }
    }

    /// A random X whose `10.213.X.0/30` no interface on the machine uses yet.
    private static func freeSubnet() throws -> Int {
        let used = (try? String(contentsOfFile: "/proc/net/fib_trie", encoding: .utf8)) ?? ""
        for _ in 0..<50 {
            let candidate = Int.random(in: 1...254)
            let taken =
                used.contains("10.213.\(candidate).")
                || namespaces().contains { $0.hasSuffix("-\(candidate)") }
            if !taken { return candidate }
        }
        throw HarnessError("no free 10.213.X.0/30 subnet for a test namespace")
    }
}
