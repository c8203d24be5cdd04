import Foundation

/// The progress line of a backup copy, shown only when stderr is a terminal.
enum BackupProgress {
    /// Starts a task that redraws `copied / total, rate, ETA` every second until cancelled.
    /// Bytes are counted in `destination` when it is local; otherwise only the elapsed time shows.
    static func start(source: String, destination: Location) -> Task<Void, Never>? {
        guard isatty(2) == 1 else { return nil }
        return Task.detached {
            let total = bytes(under: source)
            let started = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let elapsed = Double((ContinuousClock.now - started).components.seconds)
                var line = "\r\(Int(elapsed))s"
                if case .local(let path) = destination {
                    let copied = bytes(under: path)
                    line = "\r" + render(copied: copied, total: total, elapsed: elapsed)
                }
                FileHandle.standardError.write(Data((line + "   ").utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }

    /// `1.2 GiB / 3.4 GiB, 120.0 MiB/s, ETA 19s`.
    static func render(copied: Int64, total: Int64, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(copied) / elapsed : 0
        var text =
            "\(ListBackups.humanSize(copied)) / \(ListBackups.humanSize(total)), "
            + "\(ListBackups.humanSize(Int64(rate)))/s"
        if rate > 0, total > copied { text += ", ETA \(Int(Double(total - copied) / rate))s" }
        return text
    }

    /// The size of the regular files under a directory.
    static func bytes(under path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        while let name = walker.nextObject() as? String {
            var st = stat()
            if lstat("\(path)/\(name)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                total += Int64(st.st_size)
            }
        }
        return total
    }
}
