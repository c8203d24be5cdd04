import Foundation

/// The rsync commands of a base backup (pure builders) and the parsing of their statistics.
public enum BackupCopy {
    /// What must not be copied from a data directory (reference/postgres.md). Directory contents
    /// are excluded, not the directories; pg_wal is recreated empty with archive_status.
    public static let dataDirExcludes: [String] = [
        "/pg_wal", "/pg_xlog",
        "/pg_replslot/*", "/pg_dynshmem/*", "/pg_notify/*", "/pg_serial/*", "/pg_snapshots/*",
        "/pg_stat_tmp/*", "/pg_subtrans/*",
        "/postmaster.pid", "/postmaster.opts",
        "pgsql_tmp*", "pg_internal.init",
        "/postgresql.auto.conf.tmp", "/current_logfiles.tmp",
        "/backup_label", "/tablespace_map", "/backup_manifest", "/backup_label.old",
        "/standby.signal", "/recovery.signal", "/recovery.conf",
        // setup's copies of the postgresql.conf it edited (`postgresql.conf.walmgr-<time>`).
        "*.conf.walmgr-*",
        // Made by xbackupprep for tablespace copies; the exclude also shields it from --delete.
        "/\(tablespaceDir)",
    ]

    /// Excludes inside a tablespace directory.
    public static let tablespaceExcludes = ["pgsql_tmp*", "pg_internal.init"]

    /// The directory inside a backup that holds tablespace copies: `walmgr_tblspc/<oid>/`.
    public static let tablespaceDir = "walmgr_tblspc"

    /// `rsync -a --delete --stats [-z] [--link-dest=DIR] [-s -e SSH] --exclude=… -- SOURCE/ DEST/`.
    /// - Parameters:
    ///   - destination: a ``Location``; a remote one goes over `ssh`.
    ///   - ssh: the ssh builder for a remote destination (made from the destination's host).
    ///   - linkDest: the previous backup's copy of this tree, on the destination's host: rsync
    ///     hard-links a file from it instead of sending it when size, mtime, mode and owner match
    ///     (rsync's quick check; a missing dir only draws a warning).
    public static func rsync(
        source: String, destination: Location, ssh: SSH?, compress: Bool, excludes: [String],
        linkDest: String? = nil
    ) -> Command {
        var args = ["-a", "--delete", "--stats", "--no-human-readable"]
        if compress { args.append("-z") }
        if let linkDest { args.append("--link-dest=\(linkDest)") }
        args += remoteShell(destination, ssh)
        args += excludes.map { "--exclude=\($0)" }
        args += ["--", slash(source), slash(target(destination))]
        return Command("rsync", args)
    }

    /// `rsync -a -L [-z] [-s -e SSH] -- FILE… DEST/` for config files (links followed).
    public static func rsyncFiles(
        _ files: [String], destination: Location, ssh: SSH?, compress: Bool
    ) -> Command {
        var args = ["-a", "-L", "--stats", "--no-human-readable"]
        if compress { args.append("-z") }
        args += remoteShell(destination, ssh)
        return Command("rsync", args + ["--"] + files + [slash(target(destination))])
    }

    /// `-s -e SSH` for a remote destination. `-s` (`--protect-args`, `--secluded-args` since
    /// rsync 3.3) sends the paths inside rsync's protocol, so the remote shell never splits or
    /// expands them; rsync before 3.2.4 would otherwise hand them to it as they are.
    static func remoteShell(_ destination: Location, _ ssh: SSH?) -> [String] {
        guard case .remote = destination, let ssh else { return [] }
        return ["-s", "-e", ssh.rsyncShell]
    }

    /// The destination as rsync gets it: `host:path` without `user@`, because
    /// ``SSH/rsyncShell`` passes the user as `-l` (an IPv6 host in brackets).
    public static func target(_ destination: Location) -> String {
        guard case .remote(let host, let path) = destination else { return destination.path }
        return Location.remote(host: Location.splitUser(host).name, path: path).description
    }

    static func slash(_ path: String) -> String { path.hasSuffix("/") ? path : path + "/" }

    /// Bytes and regular files from rsync's `--stats` output.
    public static func stats(_ output: String) -> (bytes: Int64, files: Int) {
        var bytes: Int64 = 0
        var files = 0
        for line in output.split(separator: "\n") {
            if line.hasPrefix("Total file size:") {
                bytes =
                    Int64(digits(line.dropFirst("Total file size:".count).prefix { $0 != "b" }))
                    ?? 0
            } else if line.hasPrefix("Number of files:") {
                if let reg = line.range(of: "reg: ") {
                    files = Int(number(line[reg.upperBound...])) ?? 0
                } else {
                    files =
                        Int(digits(line.dropFirst("Number of files:".count).prefix { $0 != "(" }))
                        ?? 0
                }
            }
        }
        return (bytes, files)
    }

    static func digits(_ s: Substring) -> String { String(s.filter(\.isNumber)) }

    /// The leading number of `s`, allowing thousands separators (`1,234`).
    static func number(_ s: Substring) -> String {
        var out = ""
        var rest = s[...]
        while let c = rest.first {
            if c.isNumber {
                out.append(c)
            } else if c != "," && c != "." || !(rest.dropFirst().first?.isNumber ?? false) {
                break
            }
            rest = rest.dropFirst()
        }
        return out
    }

    /// The tablespaces of a data directory: pg_tblspc's symlinks and their targets.
    public static func tablespaces(dataDir: String) -> [(oid: String, location: String)] {
        let dir = "\(dataDir)/pg_tblspc"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        return names.compactMap { name in
            guard
                let target = try? FileManager.default.destinationOfSymbolicLink(
                    atPath: "\(dir)/\(name)")
            else { return nil }
            return (name, target.hasPrefix("/") ? target : "\(dir)/\(target)")
        }
    }

    /// The config files to save: what the server SHOWs, plus postgresql.conf, pg_hba.conf and
    /// pg_ident.conf next to master_config; one per base name, the server's own paths first.
    public static func configFiles(shown: [String], masterConfig: String) -> [String] {
        let dir = (masterConfig as NSString).deletingLastPathComponent
        let nearby = ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"].map { "\(dir)/\($0)" }
        var seen: Set<String> = []
        var files: [String] = []
        for path in shown + [masterConfig] + nearby
        where FileManager.default.fileExists(atPath: path) {
            let name = (path as NSString).lastPathComponent
            if seen.insert(name).inserted { files.append(path) }
        }
        return files
    }
}
