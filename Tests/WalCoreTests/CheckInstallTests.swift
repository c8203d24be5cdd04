import Foundation
import Testing

@testable import WalCore

/// The installed binary needs no Swift runtime. Runs only when WALMGR_TEST_RELEASE_BINARY names
/// a release binary (built with --static-swift-stdlib, e.g. by `make install`), because a
/// release build is too slow for every `make test`.
@Suite struct CheckInstallTests {
    static let binary = ProcessInfo.processInfo.environment["WALMGR_TEST_RELEASE_BINARY"]

    @Test(.enabled(if: binary != nil, "set WALMGR_TEST_RELEASE_BINARY to a release walmgr"))
    func releaseBinaryNeedsNoSwiftRuntime() async throws {
        let path = try #require(Self.binary)
        let ldd = try await TestEnv.runner.run(Command("ldd", [path]))
        try #require(ldd.succeeded, "ldd \(path): \(ldd.stderrTail)")
        let libraries = ldd.output.split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let swift = libraries.filter {
            $0.contains("libswift") || $0.contains("libFoundation") || $0.contains("libdispatch")
        }
        #expect(swift.isEmpty, "needs the Swift runtime: \(swift)")
        #expect(libraries.contains { $0.hasPrefix("libpq.so") }, "\(libraries)")
        #expect(!ldd.output.contains("not found"))
        let version = try await TestEnv.runner.run(Command(path, ["--version"]))
        #expect(version.output.contains(Walmgr.version))
    }
}
