import Foundation
import Primitives

/// The genesis of a devnet: the L1's parameters and every rollup's (docs/genesis.md).
public struct Genesis: Equatable, Sendable {
    /// The seed every dev and role key is derived from (insecure by design).
    public var devSeed: String
    public var l1: L1Parameters
    public var rollups: [RollupParameters]

    /// The rollup named `name`, if any.
    public func rollup(named name: String) -> RollupParameters? { rollups.first { $0.name == name } }

    /// The rollup with id `id`, if any.
    public func rollup(id: RollupID) -> RollupParameters? { rollups.first { $0.id == id } }
    /// The rollup a command-line value names: its name, or its id as a number.
    public func rollup(nameOrID value: String) -> RollupParameters? {
        rollup(named: value) ?? UInt32(value).flatMap { rollup(id: RollupID($0)) }
    }

    /// Loads and validates the genesis file at `path`; a `ConfigError` lists every problem.
    public static func load(path: String) throws -> Genesis {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(
                source: path,
                problems: [ConfigProblem(path: "$", message: "cannot read the file: \(error.localizedDescription)")])
        }
        return try parse(data, source: path)
    }

    /// Parses and validates genesis JSON.
    public static func parse(_ data: Data, source: String = "genesis") throws(ConfigError) -> Genesis {
        let document: JSONValue
        do { document = try JSONValue.parse(data) } catch {
            throw ConfigError(source: source, problems: [ConfigProblem(path: "$", message: "not valid JSON: \(error)")])
        }
        let reader = JSONReader()
        let genesis = read(document, reader)
        if let genesis, reader.problems.isEmpty { return genesis }
        throw ConfigError(source: source, problems: reader.problems)
    }
}

/// The L1's parameters.
public struct L1Parameters: Equatable, Sendable {
    /// The L1 node's JSON-RPC URL.
    public var rpc: String
    /// One L1 block every this many milliseconds.
    public var blockTimeMs: UInt64
    /// How many L1 blocks an output can be challenged for.
    public var fraudWindowBlocks: UInt64
    /// The bond a proposer posts with an output (and a challenger wins).
    public var bond: UInt64
    /// After this many L1 blocks without an output from a rollup's proposer, anyone may propose.
    public var proposerSilenceBlocks: UInt64
    /// The largest blob the L1 accepts.
    public var maxBlobBytes: UInt64
    /// What a challenger must hold to challenge: kept when the challenge wins, burned when it is rejected.
    public var challengeBond: UInt64
    /// The most challenges the L1 adjudicates in one block; the rest are refused (retryable).
    public var maxChallengesPerBlock: UInt64
}

/// The rollup node's mempool policy (not block validity: a block may still hold any fee).
public struct MempoolParameters: Equatable, Sendable {
    /// The least fee admitted per byte of a transaction's canonical encoding (signature included).
    public var minFeePerByte: UInt64

    /// The default policy: 1 per byte.
    public static let `default` = MempoolParameters(minFeePerByte: 1)

    public init(minFeePerByte: UInt64) { self.minFeePerByte = minFeePerByte }

    /// The least fee a transaction of `encodedSize` bytes must pay (saturating at 2^64 − 1).
    public func minimumFee(encodedSize: Int) -> UInt64 {
        let (fee, overflow) = minFeePerByte.multipliedReportingOverflow(by: UInt64(max(0, encodedSize)))
        return overflow ? UInt64.max : fee
    }
}

/// Batch packing limits.
public struct BatchParameters: Equatable, Sendable {
    /// A batch closes before its compressed frame would exceed this.
    public var maxBytes: UInt64
    /// A batch holds at most this many blocks.
    public var maxBlocks: UInt64
    /// A batch closes when its oldest block is this old.
    public var maxAgeMs: UInt64
    /// The zstd level of batch frames.
    public var zstdLevel: Int32
}

/// A role key: named for derivation from the dev seed.
public struct RoleKey: Equatable, Sendable {
    /// The derivation name (`alpha/sequencer`).
    public var name: String
    public var publicKey: PublicKey
}

/// One rollup's parameters.
public struct RollupParameters: Equatable, Sendable {
    public var id: RollupID
    public var name: String
    public var rpc: String
    public var blockTimeMs: UInt64
    /// A block seals early once it holds this many transactions.
    public var maxBlockTransactions: UInt64
    /// The most bytes a block's canonical encoding may take (a consensus rule: docs/protocol.md,
    /// "The block rule"). Default and upper bound: what fits one blob of `l1.maxBlobBytes` after
    /// zstd framing even when nothing compresses (`RollupParameters.blockBytes(fitting:)`).
    public var maxBlockBytes: UInt64 = 0
    public var batch: BatchParameters
    /// The mempool's admission price.
    public var mempool: MempoolParameters = .default
    /// An output is proposed every this many blocks.
    public var outputIntervalBlocks: UInt64
    public var nativeAsset: AssetName
    /// The native asset's total supply: the dev accounts' balances, the rest in the treasury.
    public var supply: UInt64
    /// How many prefunded dev accounts (`dev0`…) and each one's native balance.
    public var devAccountCount: Int
    public var devAccountBalance: UInt64
    public var sequencer: RoleKey
    public var batcher: RoleKey
    public var proposer: RoleKey
    /// Holds the part of the supply no dev account holds.
    public var treasury: RoleKey
    /// Signs a following node's challenges and fallback outputs (funded with bonds on the L1).
    public var challenger: RoleKey

    /// The genesis balances of the native asset, in address order.
    public var genesisBalances: [(address: Address, amount: UInt64)] {
        var out: [Address: UInt64] = [:]
        for i in 0..<devAccountCount { out[devAccountKeys[i].address, default: 0] += devAccountBalance }
        let rest = supply - UInt64(devAccountCount) * devAccountBalance
        if rest > 0 { out[treasury.publicKey.address, default: 0] += rest }
        return out.keys.sorted().map { ($0, out[$0]!) }
    }

    /// The largest block encoding whose batch — `version ‖ count ‖ block`, one zstd frame — fits
    /// `blobBytes` in the worst case (incompressible content: zstd's compress bound plus room for
    /// the frame header and checksum).
    public static func blockBytes(fitting blobBytes: UInt64) -> UInt64 {
        func frameBound(_ n: UInt64) -> UInt64 { n + (n >> 8) + (n < 131_072 ? (131_072 - n) >> 11 : 0) + 32 }
        var b = blobBytes * 256 / 257
        while b > 0, frameBound(b + 5) > blobBytes { b -= 1 }
        return b
    }

    /// The public keys of the dev accounts, `dev0` first (derived from the devnet seed).
    public var devAccountKeys: [PublicKey] { devKeys }
    fileprivate var devKeys: [PublicKey] = []
}

// MARK: - Reading

/// A rollup name: 1-32 of `a-z`, `0-9` and `-`, starting with a letter.
func isValidRollupName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard (1...32).contains(bytes.count), let first = bytes.first, (0x61...0x7a).contains(first) else { return false }
    return bytes.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
}

extension Genesis {
    fileprivate static func read(_ document: JSONValue, _ r: JSONReader) -> Genesis? {
        guard let top = r.object(document, "$", allowed: ["devSeed", "l1", "rollups"]) else { return nil }
        var seed = DevKeys.publishedSeed
        if let value = top["devSeed"], let s = r.string(value, "$.devSeed") {
            if s.isEmpty { r.problem("$.devSeed", "must not be empty") } else { seed = s }
        }
        let l1 = readL1(top["l1"], r)
        var rollups: [RollupParameters] = []
        if let items = r.array(top["rollups"], "$.rollups") {
            if items.isEmpty { r.problem("$.rollups", "must list at least one rollup") }
            if items.count > 64 { r.problem("$.rollups", "lists \(items.count) rollups; at most 64 are supported") }
            for (i, item) in items.enumerated() {
                if let rollup = readRollup(item, "$.rollups[\(i)]", seed: seed, r) { rollups.append(rollup) }
            }
            checkUnique(rollups.map { String($0.id.rawValue) }, "id", rollups, r)
            checkUnique(rollups.map(\.name), "name", rollups, r)
            checkUnique(rollups.map(\.rpc), "rpc", rollups, r)
            checkUnique(rollups.map(\.nativeAsset.rawValue), "nativeAsset.name", rollups, r)
            if let l1 {
                let cap = RollupParameters.blockBytes(fitting: l1.maxBlobBytes)
                for i in rollups.indices {
                    if rollups[i].maxBlockBytes == 0 {
                        rollups[i].maxBlockBytes = cap
                    } else if rollups[i].maxBlockBytes > cap {
                        r.problem(
                            "$.rollups[\(i)].maxBlockBytes",
                            "must be at most \(cap): a block that large must fit one blob of l1.maxBlobBytes (\(l1.maxBlobBytes)) after zstd framing, incompressible"
                        )
                    }
                }
            }
            if let l1, rollups.contains(where: { $0.rpc == l1.rpc }) {
                r.problem("$.l1.rpc", "is also a rollup's rpc address")
            }
        }
        guard let l1, r.problems.isEmpty else { return nil }
        return Genesis(devSeed: seed, l1: l1, rollups: rollups)
    }

    private static func checkUnique(_ values: [String], _ field: String, _ rollups: [RollupParameters], _ r: JSONReader)
    {
        var seen: [String: Int] = [:]
        for (i, v) in values.enumerated() {
            if let first = seen[v] {
                r.problem("$.rollups[\(i)].\(field)", "\"\(v)\" is already used by $.rollups[\(first)]")
            } else {
                seen[v] = i
            }
        }
    }

    private static func readURL(_ value: JSONValue?, _ path: String, _ r: JSONReader) -> String? {
        guard let s = r.string(value, path) else { return nil }
        guard let url = URL(string: s), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
            url.port != nil
        else {
            r.problem(path, "must be an http URL with a host and port, like http://127.0.0.1:9545, got \"\(s)\"")
            return nil
        }
        return s
    }

    private static func readL1(_ value: JSONValue?, _ r: JSONReader) -> L1Parameters? {
        let p = "$.l1"
        guard
            let o = r.object(
                value, p,
                allowed: [
                    "rpc", "blockTimeMs", "fraudWindowBlocks", "bond", "proposerSilenceBlocks", "maxBlobBytes",
                    "challengeBond", "maxChallengesPerBlock",
                ])
        else { return nil }
        let rpc = readURL(o["rpc"], "\(p).rpc", r)
        let blockTime = r.integer(o["blockTimeMs"], "\(p).blockTimeMs", in: 10...600_000)
        let window = r.integer(o["fraudWindowBlocks"], "\(p).fraudWindowBlocks", in: 1...1_000_000)
        let bond = r.integer(o["bond"], "\(p).bond", in: 0...UInt64.max)
        let silence = r.integer(o["proposerSilenceBlocks"], "\(p).proposerSilenceBlocks", in: 1...1_000_000)
        let maxBlob = r.integer(o["maxBlobBytes"], "\(p).maxBlobBytes", in: 1024...(64 << 20), default: 1 << 20)
        // The challenge bond defaults to a tenth of the output bond: a wrong challenge costs something,
        // and a won one is still paid ten times what it risked.
        let challengeBond = r.integer(
            o["challengeBond"], "\(p).challengeBond", in: 0...UInt64.max, default: (bond ?? 0) / 10)
        let maxChallenges = r.integer(
            o["maxChallengesPerBlock"], "\(p).maxChallengesPerBlock", in: 1...1000, default: 4)
        guard let rpc, let blockTime, let window, let bond, let silence, let maxBlob, let challengeBond,
            let maxChallenges
        else { return nil }
        return L1Parameters(
            rpc: rpc, blockTimeMs: blockTime, fraudWindowBlocks: window, bond: bond, proposerSilenceBlocks: silence,
            maxBlobBytes: maxBlob, challengeBond: challengeBond, maxChallengesPerBlock: maxChallenges)
    }

    private static func readRollup(_ value: JSONValue, _ p: String, seed: String, _ r: JSONReader) -> RollupParameters?
    {
        guard
            let o = r.object(
                value, p,
                allowed: [
                    "id", "name", "rpc", "blockTimeMs", "maxBlockTransactions", "maxBlockBytes", "batch",
                    "outputIntervalBlocks",
                    "nativeAsset",
                    "devAccounts", "keys", "mempool",
                ])
        else { return nil }
        let id = r.integer(o["id"], "\(p).id", in: 1...UInt64(UInt32.max))
        var name: String? = r.string(o["name"], "\(p).name")
        if let n = name, !isValidRollupName(n) {
            r.problem("\(p).name", "must be 1-32 of a-z, 0-9 and '-', starting with a letter, got \"\(n)\"")
            name = nil
        }
        let rpc = readURL(o["rpc"], "\(p).rpc", r)
        let blockTime = r.integer(o["blockTimeMs"], "\(p).blockTimeMs", in: 10...600_000)
        let maxTxs = r.integer(o["maxBlockTransactions"], "\(p).maxBlockTransactions", in: 1...100_000)
        let maxBlockBytes =
            o["maxBlockBytes"] == nil ? 0 : r.integer(o["maxBlockBytes"], "\(p).maxBlockBytes", in: 4096...(64 << 20))
        let interval = r.integer(o["outputIntervalBlocks"], "\(p).outputIntervalBlocks", in: 1...100_000)
        var batch: BatchParameters?
        if let b = r.object(o["batch"], "\(p).batch", allowed: ["maxBytes", "maxBlocks", "maxAgeMs", "zstdLevel"]) {
            let maxBytes = r.integer(b["maxBytes"], "\(p).batch.maxBytes", in: 1024...(64 << 20))
            let maxBlocks = r.integer(b["maxBlocks"], "\(p).batch.maxBlocks", in: 1...100_000)
            let maxAge = r.integer(b["maxAgeMs"], "\(p).batch.maxAgeMs", in: 10...3_600_000)
            let level = r.integer(b["zstdLevel"], "\(p).batch.zstdLevel", in: 1...22, default: 3)
            if let maxBytes, let maxBlocks, let maxAge, let level {
                batch = BatchParameters(
                    maxBytes: maxBytes, maxBlocks: maxBlocks, maxAgeMs: maxAge, zstdLevel: Int32(level))
            }
        }
        var mempool: MempoolParameters? = .default
        if let m = o["mempool"] {
            mempool = nil
            if let m = r.object(m, "\(p).mempool", allowed: ["minFeePerByte"]),
                let perByte = r.integer(
                    m["minFeePerByte"], "\(p).mempool.minFeePerByte", in: 0...1_000_000,
                    default: MempoolParameters.default.minFeePerByte)
            {
                mempool = MempoolParameters(minFeePerByte: perByte)
            }
        }
        var asset: AssetName?, supply: UInt64?
        if let a = r.object(o["nativeAsset"], "\(p).nativeAsset", allowed: ["name", "supply"]) {
            if let s = r.string(a["name"], "\(p).nativeAsset.name") {
                asset = AssetName(rawValue: s)
                if asset == nil {
                    r.problem("\(p).nativeAsset.name", "must be 1-32 of A-Z a-z 0-9 . _ -, got \"\(s)\"")
                } else if s.contains("/") {
                    // `<rollup>/<ASSET>` names another rollup's asset held here (docs/protocol.md).
                    asset = nil
                    r.problem(
                        "\(p).nativeAsset.name",
                        "must not contain \"/\", which names wrapped assets (\"alpha/ALPHA\" is alpha's ALPHA held elsewhere), got \"\(s)\""
                    )
                }
            }
            supply = r.integer(a["supply"], "\(p).nativeAsset.supply", in: 1...UInt64.max)
        }
        var count: UInt64?, balance: UInt64?
        if let d = r.object(o["devAccounts"], "\(p).devAccounts", allowed: ["count", "balance"]) {
            count = r.integer(d["count"], "\(p).devAccounts.count", in: 0...1_000)
            balance = r.integer(d["balance"], "\(p).devAccounts.balance", in: 0...UInt64.max)
        }
        if let count, let balance, let supply {
            let (total, overflow) = count.multipliedReportingOverflow(by: balance)
            if overflow || total > supply {
                r.problem("\(p).devAccounts", "\(count) accounts of \(balance) exceed the native supply \(supply)")
            }
        }
        var roles: [String: RoleKey] = [:]
        let roleNames = ["sequencer", "batcher", "proposer", "treasury", "challenger"]
        if let k = r.object(o["keys"] ?? .object([:]), "\(p).keys", allowed: Set(roleNames)) {
            for role in roleNames {
                let fallback = name.map { "\($0)/\(role)" }
                let keyName: String?
                if let v = k[role] { keyName = r.string(v, "\(p).keys.\(role)") } else { keyName = fallback }
                if let keyName {
                    if keyName.isEmpty {
                        r.problem("\(p).keys.\(role)", "must not be empty")
                    } else {
                        roles[role] = RoleKey(
                            name: keyName, publicKey: DevKeys.key(named: keyName, seed: seed).publicKey)
                    }
                }
            }
        }
        guard let id, let name, let rpc, let blockTime, let maxTxs, let interval, let batch, let asset, let supply,
            let count, let balance, let sequencer = roles["sequencer"], let batcher = roles["batcher"],
            let proposer = roles["proposer"], let treasury = roles["treasury"], let challenger = roles["challenger"]
        else { return nil }
        var rollup = RollupParameters(
            id: RollupID(UInt32(id)), name: name, rpc: rpc, blockTimeMs: blockTime, maxBlockTransactions: maxTxs,
            batch: batch, outputIntervalBlocks: interval, nativeAsset: asset, supply: supply,
            devAccountCount: Int(count), devAccountBalance: balance, sequencer: sequencer, batcher: batcher,
            proposer: proposer, treasury: treasury, challenger: challenger)
        if let mempool { rollup.mempool = mempool } else { return nil }
        rollup.devKeys = (0..<Int(count)).map { DevKeys.account($0, seed: seed).publicKey }
        rollup.maxBlockBytes = maxBlockBytes ?? 0
        return rollup
    }
}
