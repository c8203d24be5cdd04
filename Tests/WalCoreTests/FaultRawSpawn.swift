import Foundation

/// Runs a program with argv given as raw bytes (Swift strings cannot hold invalid UTF-8), as the
/// server's user, and captures its exit status and stderr.
enum RawSpawn {
    struct Result {
        let status: Int32
        let stderr: String
    }

    /// Runs `argv` (argv[0] is the program's path) in `cwd`; kills it after `timeout` seconds.
    static func run(_ argv: [[UInt8]], cwd: String, timeout: Double = 60) throws -> Result {
        // env -C changes directory in the child: chdir here would race with parallel tests.
        var full = [Array("/usr/bin/env".utf8), Array("-C".utf8), Array(cwd.utf8)] + argv
        if let user = TestEnv.runAsUser {
            full =
                ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups"]
                .map { Array($0.utf8) } + full
        }
        let errPath =
            "\(NSTemporaryDirectory())/wm-raw-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let pid = try spawn(full, actions: &actions)
        let status = wait(pid, timeout: timeout)
        let stderr = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
        return Result(status: status, stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs `argv` (argv[0] is the program's path) as this process's user with stdin, stdout
    /// and stderr on /dev/null, and waits for it at most `timeout` seconds before killing it;
    /// returns its status, -1 when it could not start. No Foundation `Process`: its
    /// `waitUntilExit` has no bound, and a teardown blocked in it blocks its thread for good.
    @discardableResult
    static func quiet(_ argv: [String], timeout: Double = 60) -> Int32 {
        bounded(argv, stdout: "/dev/null", timeout: timeout)
    }

    /// Like ``quiet(_:timeout:)``, returning what `argv` wrote to stdout ("" if it could not
    /// start).
    static func output(_ argv: [String], timeout: Double = 60) -> String {
        let path =
            "\(NSTemporaryDirectory())/wm-out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        bounded(argv, stdout: path, timeout: timeout)
        let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    @discardableResult
    private static func bounded(_ argv: [String], stdout: String, timeout: Double) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard let pid = try? spawn(argv.map { Array($0.utf8) }, actions: &actions) else {
            return -1
        }
        return wait(pid, timeout: timeout)
    }

    private static func spawn(
        _ argv: [[UInt8]], actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        let cStrings: [UnsafeMutablePointer<CChar>?] =
            argv.map { bytes in
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
                for (i, byte) in bytes.enumerated() { buffer[i] = CChar(bitPattern: byte) }
                buffer[bytes.count] = 0
                return buffer
            } + [nil]
        defer { for pointer in cStrings { pointer?.deallocate() } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, cStrings[0]!, &actions, nil, cStrings, environ)
        guard rc == 0 else { throw HarnessError("posix_spawn \(argv[0]): \(rc)") }
        return pid
    }

    private static func wait(_ pid: pid_t, timeout: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(2_000)
        }
        let signalled = status & 0x7F
        return signalled == 0 ? (status >> 8) & 0xFF : 128 + signalled
    }
}
