import Foundation

/// An S3 access key. `description` shows the key id only: the secret never reaches a log line,
/// an error, argv or `status --json`.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    /// The access key id (safe to show).
    public let accessKeyId: String
    /// The secret access key (never shown).
    public let secret: String
    /// A session token for temporary credentials, sent as `x-amz-security-token`.
    public let sessionToken: String?
    /// Where the key came from, for messages (`s3_credentials_file /etc/…`, `AWS_* variables`).
    public let source: String

    public var description: String { "access key id \(accessKeyId) from \(source)" }

    /// Finds credentials, first found wins: `s3_credentials_file` from the config, then
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, then `AWS_SHARED_CREDENTIALS_FILE` or
    /// `~/.aws/credentials`. A profile is `s3_profile`, else `AWS_PROFILE`, else `default`.
    public static func resolve(
        _ settings: S3Settings, environment: [String: String] = ProcessInfo.processInfo.environment,
        home: String = NSHomeDirectory()
    ) throws(S3Error) -> S3Credentials {
        let profile = settings.profile ?? environment["AWS_PROFILE"] ?? "default"
        if let file = settings.credentialsFile {
            return try fromFile(file, profile: profile, source: "s3_credentials_file \(file)")
        }
        if let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        {
            return S3Credentials(
                accessKeyId: id, secret: secret, sessionToken: environment["AWS_SESSION_TOKEN"],
                source: "the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables")
        }
        let shared = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        if access(shared, F_OK) == 0 {
            return try fromFile(shared, profile: profile, source: "\(shared) [\(profile)]")
        }
        throw .noCredentials(tried: [
            "s3_credentials_file (not set)", "AWS_ACCESS_KEY_ID (not set)", shared,
        ])
    }

    /// Reads an AWS-style credentials file: `aws_access_key_id`, `aws_secret_access_key` and
    /// optionally `aws_session_token`, under `[profile]` (or before any section). The file must
    /// be unreadable to group and others, and belong to the user walmgr runs as (unless root).
    static func fromFile(_ path: String, profile: String, source: String) throws(S3Error)
        -> S3Credentials
    {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .badCredentialsFile(
                path: path,
                reason: "\(String(cString: strerror(errno))) (walmgr runs as "
                    + "\(UserAccount.currentName))")
        }
        let mode = Int(info.st_mode) & 0o7777
        // root may use a file of the user it acts for; anyone else only their own.
        guard info.st_uid == geteuid() || geteuid() == 0, mode & 0o077 == 0 else {
            let owner = UserAccount(uid: info.st_uid)?.name ?? "uid \(info.st_uid)"
            throw .badCredentialsFile(
                path: path,
                reason: "it holds a secret but is owned by \(owner) with mode 0"
                    + "\(String(mode, radix: 8)); walmgr runs as \(UserAccount.currentName). "
                    + "Run: chown \(UserAccount.currentName) \(path); chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .badCredentialsFile(path: path, reason: "cannot read it as UTF-8 text")
        }
        let values = parse(text, profile: profile)
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"]
        else {
            throw .badCredentialsFile(
                path: path,
                reason: "no aws_access_key_id and aws_secret_access_key under [\(profile)] "
                    + "(or before the first section)")
        }
        return S3Credentials(
            accessKeyId: id, secret: secret, sessionToken: values["aws_session_token"],
            source: source)
    }

    /// The `key = value` pairs of `[profile]` plus those before any section; pure.
    static func parse(_ text: String, profile: String) -> [String: String] {
        var values: [String: String] = [:]
        var section: String? = nil
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard section == nil || section == profile || section == "profile \(profile)",
                let eq = line.firstIndex(of: "=")
            else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            values[key] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}
