import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few effects config loading needs: reading the file and facts about the process.
enum ConfigFileAccess {
    /// Reads the UTF-8 text of the file at the absolute `path`.
    /// - Throws: ``ConfigError/fileNotFound(path:)`` or
    ///   ``ConfigError/fileUnreadable(path:reason:owner:mode:user:)`` with owner, mode and user.
    static func read(path: String) throws(ConfigError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { throw .fileNotFound(path: path) }
            if code == EACCES, let (dir, info) = blockingDirectory(of: path) {
                throw unreadable(path, reason: "its directory \(dir) cannot be entered", info: info)
            }
            throw unreadable(path, reason: errorText(code), info: nil)
        }
        if Int(info.st_mode) & 0o170000 == 0o040000 {
            throw unreadable(path, reason: "it is a directory, not a file", info: info)
        }
        let data = try readBounded(path, info: info)
        guard let text = String(data: data, encoding: .utf8) else {
            throw unreadable(path, reason: "it is not UTF-8 text", info: info)
        }
        return text
    }

    /// The deepest existing ancestor of `path` that stat reaches: when stat of `path` failed
    /// with EACCES, that is the directory walmgr's user may not enter (its owner and mode go
    /// into the message instead of "unknown").
    private static func blockingDirectory(of path: String) -> (String, stat)? {
        var probe = (path as NSString).deletingLastPathComponent
        while !probe.isEmpty {
            var info = stat()
            if stat(probe, &info) == 0 { return (probe, info) }
            if probe == "/" { break }
            probe = (probe as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// The most bytes a config file may have: real ones are a few KiB, and a bigger file
    /// (a log or a device named by mistake) would otherwise be read whole into memory.
    static let maxFileSize = 1 << 20

    /// Reads at most ``maxFileSize`` bytes of `path`; a longer file is refused by size.
    private static func readBounded(_ path: String, info: stat) throws(ConfigError) -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw unreadable(path, reason: errorText(errno), info: info) }
        defer { close(fd) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        // Reads until end of file or one byte past the cap, so a device never ends the loop late.
        while data.count <= maxFileSize {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw unreadable(path, reason: errorText(errno), info: info) }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        guard data.count <= maxFileSize else {
            let size = info.st_size > maxFileSize ? "\(info.st_size) bytes" : "over 1 MiB"
            throw .fileTooLarge(path: path, size: size)
        }
        return data
    }

    /// `path` made absolute against the current directory, with `.` and `..` removed.
    static func absolute(_ path: String) -> String {
        let base = FileManager.default.currentDirectoryPath
        let joined = path.hasPrefix("/") ? path : base.configJoined(path)
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `$HOME`, or the home directory from the password database.
    static var homeDirectory: String {
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty {
            return home
        }
        guard let pw = getpwuid(geteuid()) else { return "/" }
        return String(cString: pw.pointee.pw_dir)
    }

    /// The host name as `gethostname(2)` reports it (Python's `socket.gethostname()`).
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The name of the user walmgr runs as.
    static var currentUser: String {
        userName(geteuid())
    }

    private static func userName(_ uid: uid_t) -> String {
        guard let pw = getpwuid(uid) else { return "uid \(uid)" }
        return String(cString: pw.pointee.pw_name)
    }

    private static func groupName(_ gid: gid_t) -> String {
        guard let gr = getgrgid(gid) else { return "gid \(gid)" }
        return String(cString: gr.pointee.gr_name)
    }

    private static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    private static func unreadable(_ path: String, reason: String, info: stat?) -> ConfigError {
        let owner = info.map { "\(userName($0.st_uid)):\(groupName($0.st_gid))" } ?? "unknown"
        let mode = info.map { "0" + String(Int($0.st_mode) & 0o7777, radix: 8) } ?? "unknown"
        return .fileUnreadable(
            path: path, reason: reason, owner: owner, mode: mode, user: currentUser)
    }
}
