// swift-tools-version:6.1
import PackageDescription

// Dependency direction (see docs/architecture.md):
// Primitives <- Storage, Compression <- StateTree <- ... <- tributary
let package = Package(
    name: "Tributary",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tributary", targets: ["tributary"]),
        .executable(name: "tributary-faults", targets: ["FaultSuite"]),
        // Decoder fuzz targets: libFuzzer binaries under Scripts/fuzz, corpus replayers otherwise.
        .executable(name: "fuzz-codec", targets: ["FuzzCodec"]),
        .executable(name: "fuzz-batch", targets: ["FuzzBatch"]),
        .executable(name: "fuzz-proofs", targets: ["FuzzProofs"]),
        .executable(name: "fuzz-witness", targets: ["FuzzWitness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
    ],
    targets: [
        // System libraries. Debian: liblmdb-dev, libzstd-dev (Scripts/bootstrap installs them).
        .systemLibrary(
            name: "CLMDB", pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"]), .brew(["lmdb"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),

        .target(
            name: "Primitives",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Storage",
            dependencies: ["CLMDB", "Primitives", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Compression", dependencies: ["CZstd"]),
        .target(
            name: "StateTree",
            dependencies: ["Primitives", "Storage"]),
        .target(name: "StateMachine", dependencies: ["Primitives", "StateTree", "Storage"]),
        // Genesis and other configuration documents, validated with JSON paths.
        .target(name: "Config", dependencies: ["Primitives"]),
        .target(
            name: "Chain",
            dependencies: [
                "Primitives", "Storage", "StateTree", "StateMachine", "Config", "Settlement",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Benchmarks",
            dependencies: [
                "Primitives", "Storage", "Compression", "StateTree", "CLMDB", "Devnet", "Chain", "Config", "API",
                "RPC",
                "StateMachine", "Settlement",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        // The devnet launcher and its parts: genesis files to processes, ports, logs, teardown; seeded
        // randomness, temporary directories, the one wait; the one load generator and the one block
        // follower. Used by the benchmarks, the fault suite and the tests.
        .target(name: "Devnet", dependencies: ["Config", "Primitives", "RPC", "API"]),
        // Test support beyond the launcher (the one wait, the small genesis); never linked into tributary.
        .target(name: "TributaryTesting", dependencies: ["Devnet", "Config"]),
        .executableTarget(
            name: "tributary",
            dependencies: [
                "Primitives", "Storage", "Benchmarks", "Node", "RPC", "Config", "Chain", "L1", "StateMachine",
                "Operator", "API", "L1Chain", "HTTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // The fault suite behind Scripts/faults: a real devnet under load, crashed, cut off and disordered.
        .executableTarget(
            name: "FaultSuite",
            dependencies: [
                "Devnet", "TributaryTesting", "RPC", "Config", "Primitives", "StateMachine", "Chain", "Settlement", "API",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),

        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives", "TributaryTesting"]),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "CLMDB", "TributaryTesting", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression"]),
        .testTarget(name: "StateTreeTests", dependencies: ["StateTree", "Primitives", "Storage", "TributaryTesting"]),
        .testTarget(
            name: "StateMachineTests",
            dependencies: ["StateMachine", "StateTree", "Storage", "Primitives", "TributaryTesting"]),
        .target(
            name: "Rollup",
            dependencies: [
                "Primitives", "Chain", "StateMachine",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The settlement protocol: batches, outputs, L1 transactions, derivation and adjudication.
        .target(
            name: "Settlement",
            dependencies: ["Primitives", "Compression", "StateTree", "StateMachine", "Config"]),
        // The L1 chain store: its tables and records, the transactions it accepts, its adjudication.
        .target(
            name: "L1Chain",
            dependencies: [
                "Primitives", "Storage", "Settlement", "Config", "StateMachine",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The L1 node: block production and RPC over the L1 chain store.
        .target(
            name: "L1",
            dependencies: [
                "Primitives", "Storage", "Settlement", "Config", "L1Chain", "RPC", "HTTPServer", "API",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // JSON-RPC: the dispatcher, the HTTP client and the transports (what clients and tools link).
        .target(
            name: "RPC",
            dependencies: [
                "Config", "Primitives",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]),
        // The daemons' HTTP server (Hummingbird) over a dispatcher: body limit, /health, /metrics,
        // connection limits.
        .target(
            name: "HTTPServer",
            dependencies: [
                "Config", "RPC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]),
        // The RPC API: the JSON form of every value, the typed L1 client, the store-against-L1 rule.
        .target(
            name: "API",
            dependencies: ["Primitives", "Config", "Settlement", "StateMachine", "Storage", "Chain", "L1Chain", "RPC"]),
        .target(
            name: "Node",
            dependencies: [
                "Chain", "Config", "Primitives", "RPC", "Rollup", "StateMachine", "StateTree", "Storage", "Settlement",
                "Compression", "API", "HTTPServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // Operator tooling behind `tributary db|snapshot|replay`: inspection, verification, snapshots, replay.
        .target(
            name: "Operator",
            dependencies: [
                "Primitives", "Storage", "Compression", "CZstd", "StateTree", "StateMachine", "Config", "Chain",
                "Settlement", "L1Chain", "API",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "OperatorTests",
            dependencies: [
                "Operator", "Chain", "Config", "Primitives", "Storage", "StateTree", "StateMachine", "Settlement",
                "L1Chain", "TributaryTesting",
            ]),
        // The rollup node's services against a real L1 in process (its dispatcher as the transport).
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "Node", "L1", "L1Chain", "API", "Chain", "RPC", "Primitives", "Rollup", "Settlement",
                "StateMachine", "TributaryTesting", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Primitives"]),
        // The load generator's pacings and nonces and the block follower, against an in-memory node.
        .testTarget(
            name: "DevnetTests", dependencies: ["Devnet", "API", "Config", "Primitives", "RPC", "TributaryTesting"]),
        .testTarget(
            name: "L1StoreTests", dependencies: ["L1", "L1Chain", "Chain", "Settlement", "Config", "Primitives", "Storage", "TributaryTesting"]),
        .testTarget(
            name: "SettlementTests",
            dependencies: [
                "Settlement", "Chain", "Compression", "Config", "Primitives", "StateMachine", "StateTree",
                "TributaryTesting",
            ]),
        .testTarget(
            name: "RollupTests",
            dependencies: [
                "Rollup", "Chain", "Config", "Primitives", "StateMachine", "Settlement", "TributaryTesting",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Decoder fuzzing (docs/reliability.md): one function per target, the executables that run
        // them (libFuzzer with `-DFUZZING`, corpus replay without), and the corpus replay tests.
        .target(
            name: "FuzzTargets",
            dependencies: ["Primitives", "Compression", "StateTree", "StateMachine", "Chain", "Settlement"]),
        .executableTarget(name: "FuzzCodec", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "FuzzBatch", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "FuzzProofs", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "FuzzWitness", dependencies: ["FuzzTargets"]),
        .testTarget(
            name: "FuzzTests",
            dependencies: [
                "FuzzTargets", "Primitives", "Compression", "StateTree", "StateMachine", "Chain", "Settlement",
            ],
            exclude: ["Corpus", "Regressions"]),
        .testTarget(
            name: "ChainTests",
            dependencies: ["Chain", "Config", "StateMachine", "Settlement", "Primitives", "Storage", "TributaryTesting"]),
        // Runs the built `tributary` as a real process (the dependency on it builds it first).
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "tributary", "TributaryTesting", "RPC", "Config", "Primitives", "Chain", "StateMachine", "StateTree",
                "Storage", "Settlement", "Node", "Compression", "L1", "L1Chain", "API", "Rollup", "HTTPServer",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ]
)
