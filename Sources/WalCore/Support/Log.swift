import Foundation
import Synchronization

/// Severity of a log line, in walmgr3's words.
public enum LogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug = 10, info = 20, warning = 30, error = 40

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .debug: "DEBUG"
        case .info: "INFO"
        case .warning: "WARNING"
        case .error: "ERROR"
        }
    }
}

/// Writes walmgr3-shaped log lines (`2026-11-21 21:15:24,123 12345 INFO message`) to stderr
/// and, when set, to a size-rotated log file.
public final class Log: Sendable {
    /// Lines below this level are not written to stderr.
    public let stderrLevel: LogLevel
    private let file: LogFile?

    /// Creates a logger; `verbose` shows debug lines, `quiet` shows only warnings and errors.
    public init(verbose: Bool = false, quiet: Bool = false, logfile: String? = nil) {
        stderrLevel = verbose ? .debug : (quiet ? .warning : .info)
        file = logfile.map { LogFile(path: $0) }
    }

    /// Logs at debug level.
    public func debug(_ message: @autoclosure () -> String) { write(.debug, message) }
    /// Logs at info level.
    public func info(_ message: @autoclosure () -> String) { write(.info, message) }
    /// Logs at warning level.
    public func warning(_ message: @autoclosure () -> String) { write(.warning, message) }
    /// Logs at error level.
    public func error(_ message: @autoclosure () -> String) { write(.error, message) }

    private func write(_ level: LogLevel, _ message: () -> String) {
        let toFile = file != nil && level >= .info
        guard level >= stderrLevel || toFile else { return }
        let line = Log.format(date: Date(), pid: getpid(), level: level, message: message())
        let bytes = Array(line.utf8)
        if level >= stderrLevel {
            _ = bytes.withUnsafeBytes { Foundation.write(2, $0.baseAddress, $0.count) }
        }
        if toFile { file?.append(bytes) }
    }

    /// Renders one log line (pure; used by tests).
    public static func format(date: Date, pid: Int32, level: LogLevel, message: String) -> String {
        var tm = tm()
        var t = time_t(date.timeIntervalSince1970)
        localtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        let stamp = String(
            format: "%04d-%02d-%02d %02d:%02d:%02d,%03d", Int(tm.tm_year) + 1900,
            Int(tm.tm_mon) + 1,
            Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), ms)
        let oneLine = message.replacingOccurrences(of: "\n", with: "\n    ")
        return "\(stamp) \(pid) \(level) \(oneLine)\n"
    }
}

/// An append-only log file rotated by size like walmgr3 (10 MB × 3 backups). Its directory is
/// created (0700) on first use, as walmgr3 did; a file that still cannot be opened is reported
/// once on stderr instead of losing every line silently.
final class LogFile: Sendable {
    static let maxBytes = 10 * 1024 * 1024
    static let backups = 3
    let path: String
    /// True once the open failure was reported.
    private let warned = Mutex(false)

    init(path: String) { self.path = path }

    func append(_ bytes: [UInt8]) {
        warned.withLock { warned in
            rotateIfNeeded()
            var fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            if fd < 0, errno == ENOENT {
                try? Directories.make((path as NSString).deletingLastPathComponent)
                fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            }
            guard fd >= 0 else {
                if !warned { reportOpenFailure(errno) }
                warned = true
                return
            }
            _ = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }

    private func reportOpenFailure(_ code: Int32) {
        let line =
            "walmgr: cannot write the logfile \(path): \(String(cString: strerror(code))); "
            + "logging to stderr only. \(FileError.permissionAdvice(for: path)), or set logfile "
            + "to a writable path\n"
        _ = Array(line.utf8).withUnsafeBytes { Foundation.write(2, $0.baseAddress, $0.count) }
    }

    private func rotateIfNeeded() {
        var st = stat()
        guard stat(path, &st) == 0, Int(st.st_size) >= LogFile.maxBytes else { return }
        for i in stride(from: LogFile.backups - 1, through: 1, by: -1) {
            rename("\(path).\(i)", "\(path).\(i + 1)")
        }
        rename(path, "\(path).1")
    }
}
