import Foundation

/// `check`'s proof that an `s3://` location answers: one signed list request for its prefix.
enum S3Probe {
    /// The check line for completed_wals, or nil when it is a directory.
    static func check(_ common: CommonConfig) -> CheckResult? {
        check(common, key: "completed_wals", url: common.completedWals)
    }

    /// The check line for full_backup (the master uploads its backups there), or nil when it
    /// is a directory: wrong credentials or endpoint show here, not in the nightly backup.
    static func backupCheck(_ common: CommonConfig) -> CheckResult? {
        check(common, key: "full_backup", url: common.fullBackup)
    }

    /// `KEY reachable`: URL listed at the endpoint with the credentials' source, or the failure.
    static func check(_ common: CommonConfig, key: String, url: String) -> CheckResult? {
        guard S3Repository.isS3(url) else { return nil }
        let name = "\(key) reachable"
        do {
            guard let repository = try S3Repository(url) else { return nil }
            let client = try S3Client(settings: common.s3, repository: repository)
            let response = try client.send(
                "GET", "",
                query: [
                    ("list-type", "2"), ("max-keys", "1"),
                    ("prefix", repository.prefix),
                ])
            guard response.status == 200 else {
                throw client.failure(response, "GET (list)", repository.prefix)
            }
            return .pass(name, "\(repository) at \(client.endpoint) with \(client.credentials)")
        } catch {
            return .fail(name, "\(error)")
        }
    }
}
