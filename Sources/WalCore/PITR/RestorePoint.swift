import Foundation

/// `restore-point NAME` (master): `pg_create_restore_point`, the name validated and passed as
/// a query parameter (never spliced into SQL). Prints the LSN, which `restore --target-lsn`
/// also accepts; `restore --target-name NAME` stops there.
enum RestorePoint {
    static func run(_ context: CommandContext) async throws -> Int32 {
        guard case .master(let config) = context.config else { return 1 }
        let name = try RecoveryTarget.restorePointName(context.arguments[0], option: "NAME")
        let conninfo = try config.need(config.masterDb, key: "master_db", for: "restore-point")
        if context.notReally {
            context.log.info("would create restore point \"\(name)\" on the master")
            return 0
        }
        let db = try PGConnection(conninfo: conninfo)
        let lsn = try db.scalar("SELECT pg_create_restore_point($1)::text", [name]) ?? "?"
        // Switch so the segment holding the point is archived now, not at archive_timeout.
        let segment = try db.scalar("SELECT pg_walfile_name(pg_switch_wal())") ?? "?"
        context.log.info(
            "created restore point \"\(name)\" at \(lsn) (in \(segment), switched for archiving); "
                + "recover to it with walmgr SLAVE.ini restore --target-name \(ShellWords.quote(name))"
        )
        FileHandle.standardOutput.write(Data("\(lsn)\n".utf8))
        return 0
    }
}
