/// An error walmgr reports to the DBA: a message that says what failed and how to fix it.
public protocol WalmgrError: Error, CustomStringConvertible, Sendable {
    /// The process exit status this error maps to (1 unless a usage error).
    var exitCode: Int32 { get }
}

extension WalmgrError {
    /// Failures exit 1 by default; PostgreSQL retries archive and restore commands on 1.
    public var exitCode: Int32 { 1 }
}

/// A failure that has no better domain: a command not available, a user-facing refusal.
public struct WalmgrFailure: WalmgrError {
    /// The message shown to the DBA.
    public let message: String
    /// The exit status.
    public let exitCode: Int32

    /// Creates a failure with a message and an exit status (1 by default).
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}
