import Foundation

/// Manifest bookkeeping shared by the master and the standby backup.
enum BackupRun {
    /// A manifest with what is known before the backup starts (status `in progress`).
    static func emptyManifest(session: BackupSession, takenFrom: String) throws -> BackupManifest {
        let now = Date()
        return BackupManifest(
            name: "", label: "walmgr \(BackupManifest.isoTime(now))",
            status: BackupManifest.inProgress,
            startTime: BackupManifest.isoTime(now), stopTime: "", startLSN: "", stopLSN: "",
            startWAL: "", stopWAL: "", timeline: 1, pgVersion: session.version.num,
            systemIdentifier: try session.systemIdentifier(), sizeBytes: 0, fileCount: 0,
            tablespaces: [], takenFrom: takenFrom)
    }

    /// Completes the manifest from pg_backup_stop's result and the backup_label it returned.
    /// The stop WAL is the segment holding the byte before the stop LSN (what recovery reads).
    static func fill(
        _ manifest: inout BackupManifest, stop: BackupSession.Stop, segmentSize: UInt64
    )
        throws
    {
        let label = BackupLabel.parse(stop.labelFile)
        guard let startLSN = label.startLSN, let startWAL = label.startWAL else {
            throw BackupError.server(
                step: "reading the backup_label pg_backup_stop returned",
                detail: "no START WAL LOCATION in it")
        }
        let timeline = label.timeline ?? 1
        let stopSegment = WALSegment(
            timeline: timeline, lsn: LSN(max(stop.lsn.value, 1) - 1), size: segmentSize)
        manifest.startLSN = startLSN.description
        manifest.startWAL = startWAL
        manifest.stopLSN = stop.lsn.description
        manifest.stopWAL = stopSegment.name
        manifest.timeline = timeline
        manifest.stopTime = BackupManifest.isoTime(Date())
        // The earlier of walmgr's clock before the backup started and the label's START TIME.
        // The incremental rules (IncrementalBase, RsyncIncremental) only send more for an
        // earlier start, and the label's zone abbreviation is ambiguous: the parser reads CST as
        // US Central, which is 14 hours off for a server in China Standard Time.
        if let start = label.startTime.flatMap(BackupCatalog.isoTime(labelTime:)),
            start < manifest.startTime
        {
            manifest.startTime = start
        }
        manifest.status = "complete"
    }
}
