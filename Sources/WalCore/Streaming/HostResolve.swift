import Foundation

/// A host name for the pg_hba check that neither DNS, /etc/hosts nor `~/.ssh/config` resolves.
/// `setup` warns and skips the pg_hba evaluation; `check` reports it as a failure.
public struct UnresolvedHost: WalmgrError {
    /// The name as written in the config.
    public let host: String
    /// The key that holds it (`slave`, `primary_conninfo`).
    public let key: String
    /// The config file.
    public let configFile: String

    public var description: String {
        "cannot resolve \(host) (\(key) in \(configFile)) to check pg_hba.conf for replication: "
            + "use an IP address there, add the name to /etc/hosts or DNS, or give it a "
            + "HostName in ~/.ssh/config"
    }
}

/// Turns the standby's host name into the address the master's pg_hba sees.
enum HostResolve {
    /// An IP literal as is; `localhost` as 127.0.0.1; a name through getaddrinfo; failing that,
    /// the `HostName` ssh would use for it (`ssh -G`, so `~/.ssh/config` aliases work).
    static func address(
        _ host: String, key: String, config: MasterConfig, runner: any ProcessRunning
    ) async throws -> String {
        if let address = lookup(host) { return address }
        if let real = await sshHostName(host, options: config.common.sshOptions, runner: runner),
            real != host, let address = lookup(real)
        {
            return address
        }
        throw UnresolvedHost(host: host, key: key, configFile: config.common.configFile)
    }

    /// The `hostname` line of `ssh -G [options] host`, or nil when ssh cannot say.
    static func sshHostName(
        _ host: String, options: [String], runner: any ProcessRunning
    ) async -> String? {
        let command = Command("ssh", ["-G"] + options + ["--", host])
        guard let result = try? await runner.run(command, input: .none, timeout: .seconds(10)),
            result.succeeded
        else { return nil }
        return parseHostName(result.output)
    }

    /// The value of the `hostname` line of `ssh -G` output.
    static func parseHostName(_ output: String) -> String? {
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 1)
            if words.count == 2, words[0] == "hostname" { return String(words[1]) }
        }
        return nil
    }

    /// An IP literal, `localhost`, or the first address getaddrinfo gives (IPv4 first, as the
    /// standby's libpq usually tries it first); nil when the name does not resolve.
    static func lookup(_ host: String) -> String? {
        if IPAddress.bytes(host) != nil { return host }
        if host == "localhost" { return "127.0.0.1" }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count),
                nil, 0, NI_NUMERICHOST) == 0
            {
                addresses.append(
                    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            }
            next = info.pointee.ai_next
        }
        return addresses.first { $0.contains(".") } ?? addresses.first
    }
}
