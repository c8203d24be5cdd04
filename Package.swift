// swift-tools-version: 6.2
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "walmgr",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "walmgr", targets: ["walmgr"]),
        .library(name: "WalCore", targets: ["WalCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // SHA-256 for backup checksums: BoringSSL's SHA-NI/AVX code, linked statically.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
    ],
    targets: [
        .systemLibrary(
            // No pkgConfig: its `-lpq` would load libpq (and ~30 libraries behind it) at every
            // start-up; shim.h finds the header itself and dlopens libpq on first use.
            name: "CLibPQ",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            // No pkgConfig or link: libcurl and libcrypto are dlopened by shim.h on first use
            // by an s3:// repository, so start-up stays as it is (see docs/walmgr.md).
            name: "CCurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(
            name: "WalCore",
            dependencies: [
                "CLibPQ",
                "CCurl",
                "CLinux",
                "CZstd",
                "CLZ4",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "walmgr",
            dependencies: [
                "WalCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WalCoreTests",
            dependencies: ["WalCore"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
