import API
import Chain
import L1Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import Storage

/// Where replayed batches come from.
public enum ReplaySource: Sendable {
    /// The L1's DA blobs, through its RPC.
    case l1(url: String)
    /// Another store's `batches` table (a sequencer's or a follower's).
    case store(path: String)
}

/// The outcome of a replay.
public struct ReplayReport: Sendable {
    public var rollup: String
    public var startHeight: UInt64
    public var head: UInt64
    public var headHash: Hash
    public var stateRoot: Hash
    public var blocks: UInt64
    public var transactions: UInt64
    public var batches: UInt64
    public var seconds: Double
    /// The first block whose posted header differs from re-execution (the replay stopped before it).
    public var mismatch: String?

    public var ok: Bool { mismatch == nil }

    public var json: JSONValue {
        var json: [String: JSONValue] = [
            "ok": .bool(ok), "rollup": .string(rollup), "startHeight": .number(startHeight), "head": .number(head),
            "headHash": .string(headHash.hex), "stateRoot": .string(stateRoot.hex), "blocks": .number(blocks),
            "transactions": .number(transactions), "batches": .number(batches),
            "seconds": .fraction((seconds * 1000).rounded() / 1000),
        ]
        if let mismatch { json["mismatch"] = .string(mismatch) }
        return .object(json)
    }

    public var human: String {
        let rate =
            seconds > 0
            ? String(format: " (%.1f blocks/s, %.1f txs/s)", Double(blocks) / seconds, Double(transactions) / seconds)
            : ""
        if blocks == 0 {
            return
                ([mismatch.map { "FAILED: \($0)" } ?? "nothing to replay above height \(startHeight)"]
                + ["head \(head) \(headHash), state root \(stateRoot)"]).joined(separator: "\n")
        }
        var lines = [
            "replayed \(rollup) blocks \(startHeight + 1)…\(head): \(blocks) blocks, \(transactions) transactions, \(batches) batches in "
                + String(format: "%.1f s", seconds) + rate,
            "head \(head) \(headHash), state root \(stateRoot)",
        ]
        if let mismatch { lines.insert("FAILED: \(mismatch)", at: 0) }
        return lines.joined(separator: "\n")
    }
}

/// `tributary replay`: re-executes a rollup's posted blocks into a store, checking every header.
public final class Replayer {
    public let store: ChainStore
    public let source: ReplaySource
    public let target: UInt64?
    let progress: Progress?

    /// `datadir` must be a store already holding the rollup's genesis (new) or a restored snapshot.
    public init(store: ChainStore, source: ReplaySource, to target: UInt64?, progress: Progress?) {
        self.store = store
        self.source = source
        self.target = target
        self.progress = progress
    }

    /// Opens (creating with the genesis block) a replay target for `rollup` of `genesis`: `datadir`
    /// must be new or empty. The store knows every rollup of the genesis, as the node's does, so
    /// blocks that send cross-rollup messages re-execute as they did when sealed.
    public static func newStore(datadir: String, rollup: RollupParameters, genesis: Genesis) throws -> ChainStore {
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: datadir), !contents.isEmpty {
            throw OperatorError("\(datadir) is not empty: replay from genesis into a new or empty directory")
        }
        var options = Environment.Options()
        options.durability = .noSync
        return try ChainStore(datadir: datadir, rollup: rollup, network: Network(genesis), options: options)
    }

    /// Opens a restored snapshot as a replay target (its rollup found by its genesis hash).
    public static func existingStore(datadir: String, genesis: Genesis) throws -> ChainStore {
        var options = Environment.Options()
        options.durability = .noSync
        do {
            return try ChainStore.open(environment: Environment(path: datadir, options: options), genesis: genesis)
        } catch let error as ChainError {
            throw OperatorError("\(error)")
        }
    }

    /// The rollup whose batches the other store holds.
    public static func rollup(ofStore path: String, genesis: Genesis) throws -> RollupParameters {
        try InspectedStore(datadir: path).rollup(genesis: genesis)
    }

    /// Batches from `seq` on, at most `limit`.
    func fetch(from seq: UInt64, limit: Int, other: InspectedStore?) async throws -> [PostedBatch] {
        switch source {
        case .l1(let url):
            let blobs = try await L1Client(url: url).blobs(rollup: store.rollup.id, from: seq, limit: limit)
            return try blobs.map { blob in
                guard blob.commitment == Hash.sha256(blob.frame) else {
                    throw OperatorError("blob \(blob.header.seq)'s bytes do not match its commitment")
                }
                return PostedBatch(header: blob.header, l1Height: blob.l1Height, frame: blob.frame)
            }
        case .store:
            guard let other else { return [] }
            return try other.environment.read { txn in
                var out: [PostedBatch] = []
                try txn.forEach(Batches.self, from: seq) { _, batch in
                    out.append(batch)
                    return out.count < limit
                }
                return out
            }
        }
    }

    /// The height the source holds blocks up to, if known (for the ETA).
    func sourceHeight(other: InspectedStore?) async -> UInt64? {
        switch source {
        case .l1(let url):
            return try? await L1Client(url: url).status().rollup(store.rollup.id)?.daHeight
        case .store:
            return try? other?.environment.read { txn in
                var last: UInt64?
                try txn.forEach(Batches.self, reverse: true) { _, batch in
                    last = batch.header.lastHeight
                    return false
                }
                return last
            }
        }
    }

    /// What the L1 says of an output a relay names: from the L1, or from the source store's record.
    func fact(_ key: RollupIndex, other: InspectedStore?) async throws -> L1OutputFact? {
        switch source {
        case .l1(let url): return try await L1Client(url: url).fact(rollup: key.rollup, index: key.index)
        case .store: return try other?.environment.read { try $0.get(L1FactsTable.self, key) }
        }
    }

    /// Replays every posted block above the store's head (up to `target`), each executed with
    /// signatures checked and committed only when its header equals the posted one; stops at the
    /// first that does not, and reports it.
    public func run() async throws -> ReplayReport {
        let other: InspectedStore?
        if case .store(let path) = source {
            let inspected = try InspectedStore(datadir: path)
            try inspected.require(.rollup, for: "--source store")
            let genesisHash = try inspected.environment.read { try $0.get(Meta.self, Meta.genesis) }
            guard genesisHash == store.genesisHash.bytes else {
                throw OperatorError("\(path) holds another rollup's chain than the replay target")
            }
            other = inspected
        } else {
            other = nil
        }
        let clock = Date()
        let start = try store.head().height
        var head = start
        var report = ReplayReport(
            rollup: store.rollup.name, startHeight: start, head: start, headHash: try store.head().hash,
            stateRoot: try store.head().stateRoot, blocks: 0, transactions: 0, batches: 0, seconds: 0)
        let total = await sourceHeight(other: other).map { min($0, target ?? $0) }
        // The one import loop, stopping at the first posted block that does not re-execute; from
        // the first batch not yet recorded (a restored snapshot carries its batches).
        let importer = BatchImport(
            store: store, policy: .stop, source: other == nil ? "the L1" : "the source store")
        var seq = try importer.nextSeq()
        outer: while target.map({ head < $0 }) ?? true {
            let batches = try await fetch(from: seq, limit: 64, other: other)
            if batches.isEmpty { break }
            for batch in batches {
                guard batch.header.seq == seq else {
                    throw OperatorError("the source skips from batch \(seq) to \(batch.header.seq)")
                }
                let outcome = try await importer.run(batch, through: target) { key in
                    try await self.fact(key, other: other)
                }
                head = try store.head().height
                report.blocks += UInt64(outcome.blocks)
                report.transactions += UInt64(outcome.transactions)
                progress?.update(
                    "replay", done: head - start, total: (total ?? head) > start ? (total ?? head) - start : 0,
                    transactions: report.transactions)
                switch outcome.stop {
                case nil: break
                case .mismatch(let why, _):
                    report.mismatch = why
                    break outer
                case .gap(let why, _), .diverged(let why, _):
                    throw OperatorError(why)
                }
                if let target, head >= target, batch.header.lastHeight > target { break outer }
                report.batches += 1
                seq += 1
            }
        }
        progress?.finish()
        try store.environment.sync()
        let final = try store.head()
        report.head = final.height
        report.headHash = final.hash
        report.stateRoot = final.stateRoot
        report.seconds = Date().timeIntervalSince(clock)
        if let target, final.height < target, report.mismatch == nil {
            report.mismatch = "the source holds blocks only up to \(final.height), below --to \(target)"
        }
        return report
    }
}
