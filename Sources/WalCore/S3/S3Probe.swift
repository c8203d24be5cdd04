/// `check` and `status` for an `s3://` completed_wals: one signed list request proves the
/// endpoint, TLS, the credentials and read access to the prefix.
enum S3Probe {
    /// The check line for completed_wals, or nil when it is a directory.
    static func check(_ common: CommonConfig) -> CheckResult? {
        guard S3Repository.isS3(common.completedWals) else { return nil }
        do {
            guard let repository = try S3Repository(common.completedWals) else { return nil }
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
            return .pass(
                "completed_wals reachable",
                "\(repository) at \(client.endpoint) with \(client.credentials)")
        } catch {
            return .fail("completed_wals reachable", "\(error)")
        }
    }
}
