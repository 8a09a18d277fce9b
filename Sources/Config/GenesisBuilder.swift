import Foundation
import Primitives

/// Writes genesis files: THE way a devnet genesis is made, by `tributary genesis generate`, the
/// benchmarks' and the fault suite's devnets and the tests. Every field has the devnet's default
/// (docs/genesis.md); whatever is built is validated like any genesis file before it is used.
public struct GenesisBuilder: Sendable {
    /// The L1's parameters.
    public struct L1: Sendable {
        public var rpc = "http://127.0.0.1:8545"
        public var blockTimeMs = 1000
        public var fraudWindowBlocks = 10
        public var bond: UInt64 = 1_000_000
        public var proposerSilenceBlocks = 30
        /// Further `l1` fields (e.g. `maxBlobBytes`, `challengeBond`), written as given.
        public var extra: [String: JSONValue] = [:]

        public init() {}
    }

    /// One rollup's parameters.
    public struct Rollup: Sendable {
        public var id: UInt32
        public var name: String
        public var rpc: String
        public var blockTimeMs = 500
        public var maxBlockTransactions = 5000
        public var batchMaxBytes = 262_144
        public var batchMaxBlocks = 20
        public var batchMaxAgeMs = 2000
        public var zstdLevel = 3
        public var outputIntervalBlocks = 10
        /// The native asset; by default the name in capitals.
        public var nativeAsset: String
        public var supply: UInt64 = 1_000_000_000_000_000
        public var devAccounts = 10
        public var devAccountBalance: UInt64 = 1_000_000_000_000
        /// Further fields (e.g. `maxBlockBytes`), written as given.
        public var extra: [String: JSONValue] = [:]

        public init(id: UInt32, name: String, rpc: String) {
            self.id = id
            self.name = name
            self.rpc = rpc
            nativeAsset = name.uppercased()
        }
    }

    /// The seed the dev and role keys derive from; nil leaves it out (the published seed).
    public var devSeed: String? = DevKeys.publishedSeed
    public var l1 = L1()
    public var rollups: [Rollup]

    static let names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]

    /// The name the `index`-th rollup (from 0) gets: alpha, beta, …, theta, then rollup9, rollup10, ….
    public static func name(_ index: Int) -> String { index < names.count ? names[index] : "rollup\(index + 1)" }

    /// `count` rollups with ids 1…count, named by `name(_:)`, rollup i (from 0) on `basePort + i`.
    public init(rollups count: Int, basePort: Int = 9545, l1Port: Int = 8545) {
        l1.rpc = "http://127.0.0.1:\(l1Port)"
        rollups = (0..<count).map { i in
            Rollup(id: UInt32(i + 1), name: Self.name(i), rpc: "http://127.0.0.1:\(basePort + i)")
        }
    }

    /// Applies `change` to every rollup.
    public mutating func eachRollup(_ change: (inout Rollup) -> Void) {
        for i in rollups.indices { change(&rollups[i]) }
    }

    /// The genesis document.
    public var json: JSONValue {
        var l1Object: [String: JSONValue] = [
            "rpc": .string(l1.rpc), "blockTimeMs": .number(l1.blockTimeMs),
            "fraudWindowBlocks": .number(l1.fraudWindowBlocks), "bond": .number(l1.bond),
            "proposerSilenceBlocks": .number(l1.proposerSilenceBlocks),
        ]
        l1Object.merge(l1.extra) { _, new in new }
        let list: [JSONValue] = rollups.map { r in
            var o: [String: JSONValue] = [
                "id": .number(UInt64(r.id)), "name": .string(r.name), "rpc": .string(r.rpc),
                "blockTimeMs": .number(r.blockTimeMs), "maxBlockTransactions": .number(r.maxBlockTransactions),
                "batch": .object([
                    "maxBytes": .number(r.batchMaxBytes), "maxBlocks": .number(r.batchMaxBlocks),
                    "maxAgeMs": .number(r.batchMaxAgeMs), "zstdLevel": .number(r.zstdLevel),
                ]),
                "outputIntervalBlocks": .number(r.outputIntervalBlocks),
                "nativeAsset": .object(["name": .string(r.nativeAsset), "supply": .number(r.supply)]),
                "devAccounts": .object(["count": .number(r.devAccounts), "balance": .number(r.devAccountBalance)]),
            ]
            o.merge(r.extra) { _, new in new }
            return .object(o)
        }
        var root: [String: JSONValue] = ["l1": .object(l1Object), "rollups": .array(list)]
        if let devSeed { root["devSeed"] = .string(devSeed) }
        return .object(root)
    }

    /// The document's bytes, validated: a builder never hands out a genesis that does not load.
    public func data() throws -> Data {
        let data = try json.serialized()
        _ = try Genesis.parse(data, source: "generated genesis")
        return data
    }

    /// Writes the validated genesis to `path` and returns it loaded.
    @discardableResult
    public func write(to path: String) throws -> Genesis {
        let data = try data()
        try data.write(to: URL(fileURLWithPath: path))
        return try Genesis.load(path: path)
    }
}
