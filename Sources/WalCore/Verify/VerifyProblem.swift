/// One thing `verify` found wrong: the file, and what was expected versus found.
public struct VerifyProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The path of the file (or directory) concerned.
    public let file: String
    /// What is wrong, with expected and found values.
    public let problem: String

    /// Creates a problem.
    public init(_ file: String, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}
