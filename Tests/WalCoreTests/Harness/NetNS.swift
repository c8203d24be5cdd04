import Foundation
import Synchronization
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

    /// Brings the master's end of the link down or up. While it is down, an `unreachable` route
    /// (metric 4242, under the link's own route) stands in for the subnet: without it the
    /// packets followed the default route off the machine, and the gateway there answered an S3
    /// request for the namespace's address with HTTP 404 (a CI run failed on it).
    func setLink(up: Bool) async throws {
        if up {
            try await Self.ipRun(["link", "set", hostSide, "up"])
            try await Self.ipRun(["route", "del"] + cutRoute)
        } else {
            try await Self.ipRun(["route", "replace"] + cutRoute)
            try await Self.ipRun(["link", "set", hostSide, "down"])
        }
    }

    /// The route that keeps a cut subnet on this machine.
    private var cutRoute: [String] { Self.cutRoute(subnet) }

    private static func cutRoute(_ subnet: Int) -> [String] {
        ["unreachable", "10.213.\(subnet).0/30", "metric", "4242"]
    }

    /// Deletes the namespace (and with it the veth pair); safe to call twice.
    func destroy() {
        guard !removed else { return }
        removed = true
        TestEnv.runQuietly([Self.ip, "netns", "delete", name])
        TestEnv.runQuietly([Self.ip, "link", "delete", hostSide])
        TestEnv.runQuietly([Self.ip, "route", "del"] + cutRoute)
        _ = Self.claimed.withLock { $0.remove(subnet) }
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
        let live = Set(
            namespaces().compactMap { $0.split(separator: "-").last.flatMap { Int($0) } })
        for subnet in cutSubnets() where !live.contains(subnet) {
            TestEnv.runQuietly([ip, "route", "del"] + cutRoute(subnet))
        }
    }

    /// The subnets with a cut route (see ``setLink(up:)``) on the machine.
    private static func cutSubnets() -> [Int] {
        let text = RawSpawn.output([ip, "-o", "route", "show", "type", "unreachable"])
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 4, words[0] == "unreachable", words[3] == "4242" else {
                return nil
            }
            let octets = words[1].split(separator: ".")
            guard octets.count == 4, octets[0] == "10", octets[1] == "213" else { return nil }
            return Int(octets[2])
        }
    }

    /// A random X whose `10.213.X.0/30` no interface on the machine uses yet.
    /// Claimed and checked under ``claimed``'s lock: two tests of this process once drew the
    /// same X before either had created its namespace, and both failed (a CI run).
    private static func freeSubnet() throws -> Int {
        let used = (try? String(contentsOfFile: "/proc/net/fib_trie", encoding: .utf8)) ?? ""
        for _ in 0..<50 {
            let candidate = Int.random(in: 1...254)
            let free = claimed.withLock { taken in
                guard !taken.contains(candidate), !used.contains("10.213.\(candidate)."),
                    !namespaces().contains(where: { $0.hasSuffix("-\(candidate)") })
                else { return false }
                taken.insert(candidate)
                return true
            }
            if free { return candidate }
        }
        throw HarnessError("no free 10.213.X.0/30 subnet for a test namespace")
    }

    /// The subnets this process's namespaces hold, from ``freeSubnet()`` until ``destroy()``.
    private static let claimed = Mutex<Set<Int>>([])
}
