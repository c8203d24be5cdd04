import Foundation
import Testing

@testable import WalCore

/// The installed binary needs no Swift runtime. Runs when WALMGR_TEST_RELEASE_BINARY names a
/// release binary built with --static-swift-stdlib (`make test` sets it).
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
        // libpq (and the ~30 libraries behind it) is dlopen'ed by the commands that connect,
        // so archive_command and restore_command never load it.
        let expected = [
            "linux-vdso", "ld-linux", "libc.so", "libm.so", "libstdc++.so", "libgcc_s.so",
            "libzstd.so", "liblz4.so",
        ]
        let other = libraries.filter { lib in !expected.contains { lib.contains($0) } }
        #expect(other.isEmpty, "unexpected start-up libraries: \(other)")
        #expect(!ldd.output.contains("not found"))
        let version = try await TestEnv.runner.run(Command(path, ["--version"]))
        #expect(version.output.contains(Walmgr.version))
    }
}
