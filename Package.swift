// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "zookeeper-swift",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zkserver", targets: ["zkserver"]),
        .executable(name: "zkops", targets: ["zkops"]),
        .executable(name: "zkbench", targets: ["zkbench"]),
        .library(name: "ZKProtocol", targets: ["ZKProtocol"]),
        .library(name: "ZKClient", targets: ["ZKClient"]),
        .library(name: "ZKServer", targets: ["ZKServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Wire format: jute records, opcodes, error codes. Shared by server, client and tools.
        .target(name: "ZKProtocol", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
        // Pure replicated state machine: data tree, sessions, ACLs, watches. No I/O.
        .target(name: "ZKCore", dependencies: [
            "ZKProtocol",
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: strict),
        // Transaction log and snapshot files, group commit.
        .target(name: "ZKStorage", dependencies: [], swiftSettings: strict),
        // Pure consensus core (election, atomic broadcast, sync). No I/O.
        .target(name: "ZKQuorum", dependencies: [], swiftSettings: strict),
        // The server shell: config, SwiftNIO networking, four-letter words, wiring.
        .target(name: "ZKServer", dependencies: [
            "ZKProtocol", "ZKCore", "ZKStorage", "ZKQuorum",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOExtras", package: "swift-nio-extras"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: strict),
        // A small Swift ZooKeeper client library.
        .target(name: "ZKClient", dependencies: [
            "ZKProtocol",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        // Raw-protocol pipelined load generator (scripts/bench).
        .executableTarget(name: "zkbench", dependencies: [
            "ZKClient", "ZKProtocol",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "zkserver", dependencies: [
            "ZKServer", "ZKStorage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // libssh2, wrapped as a system library (apt: libssh2-1-dev).
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "ZKSSH", dependencies: ["CLibSSH2"], swiftSettings: strict),
        // Ops planners and deploy logic (inventory, render, plan, rollout).
        .target(name: "ZKOps", dependencies: [
            "ZKSSH", "ZKProtocol", "ZKCore", "ZKClient",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], swiftSettings: strict),
        .executableTarget(name: "zkops", dependencies: [
            "ZKOps",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        .testTarget(name: "ZKProtocolTests", dependencies: ["ZKProtocol"]),
        .testTarget(name: "ZKCoreTests", dependencies: ["ZKCore", "ZKProtocol"]),
        .testTarget(name: "ZKStorageTests", dependencies: ["ZKStorage"]),
        .testTarget(name: "ZKQuorumTests", dependencies: ["ZKQuorum"]),
        .testTarget(name: "ZKServerTests", dependencies: [
            "ZKServer", "ZKQuorum", "ZKCore", "ZKProtocol",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOTestUtils", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["Golden4lw"]),
        .testTarget(name: "ZKOpsTests", dependencies: ["ZKOps", "ZKSSH"]),
        .testTarget(name: "ZKClientTests", dependencies: [
            "ZKClient", "ZKProtocol",
            .product(name: "NIOTestUtils", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
