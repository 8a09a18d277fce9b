import API
import Chain
import Foundation
import Logging
import Primitives
import RPC
import Settlement
import StateMachine
import Storage
import Synchronization

/// Builds a rollup's canonical chain purely from the L1's blobs (docs/protocol.md, "Derivation"):
/// every posted block is executed with signatures checked, invalid transactions are left out, and
/// every claimed root is compared with the result. Where a posted header's claims differ, the
/// posted block is kept in `claims` for the challenger.
public final class Deriver: Sendable {
    public let store: ChainStore
    public let l1: L1Client
    let logger: Logger
    /// Set when a blob does not decode: derivation cannot go past it. The height is the first block
    /// that is not in DA (every output at or above it can be disputed with a `notInDA` proof).
    let halted = Mutex<(reason: String, height: UInt64)?>(nil)

    public init(store: ChainStore, l1: L1Client, logger: Logger) {
        self.store = store
        self.l1 = l1
        self.logger = logger
    }

    public var haltReason: String? { halted.withLock { $0?.reason } }

    /// Set when a block the L1 carries differs from the one the store holds at that height.
    let diverged = Mutex<String?>(nil)
    public var divergence: String? { diverged.withLock { $0 } }

    /// The first block height that is not in DA, once derivation has halted before it.
    public var haltHeight: UInt64? { halted.withLock { $0?.height } }

    func halt(_ why: String, before height: UInt64) {
        halted.withLock { $0 = (why, height) }
        logger.error("derivation halted", metadata: ["reason": "\(why)", "block.height": "\(height)"])
    }

    /// The one import loop, keeping a posted block that differs from re-execution as a claim.
    var importer: BatchImport { BatchImport(store: store, policy: .keepClaim, source: "the L1") }

    /// The next batch sequence number this node has not recorded.
    public func nextSeq() throws -> UInt64 { try importer.nextSeq() }

    /// The first height whose posted header differs from the header the block rule gives, if any.
    /// (`claims` also keeps posted blocks whose header is right but whose body carried transactions
    /// the rule left out: proofs re-execute the posted body.)
    public func firstFault() throws -> (height: UInt64, posted: Block)? {
        try store.environment.read { txn in
            var found: (UInt64, Block)?
            try txn.forEach(Claims.self) { h, block in
                guard try txn.get(Headers.self, h) != block.header else { return true }
                found = (h, block)
                return false
            }
            return found
        }
    }

    /// The posted header at `height`: the claim when it differs, else the node's own.
    public func postedHeader(at height: UInt64) throws -> BlockHeader? { try importer.postedHeader(at: height) }

    /// The L1 height of the blob that carried block `height` (from the recorded batches).
    public func blobL1Height(ofBlock height: UInt64) throws -> UInt64? {
        try store.environment.read { txn in
            var found: UInt64?
            try txn.forEach(Batches.self, reverse: true) { _, batch in
                if batch.header.firstHeight <= height, height <= batch.header.lastHeight {
                    found = batch.l1Height
                    return false
                }
                return batch.header.lastHeight >= height
            }
            return found
        }
    }

    public func postedBlock(at height: UInt64) throws -> Block? {
        if let claim = try store.environment.read({ try $0.get(Claims.self, height) }) { return claim }
        return try store.block(at: height)
    }

    /// Fetches the blobs posted since the last step and imports their blocks (`BatchImport`).
    /// Returns how many blobs were consumed (0: caught up, or halted).
    @discardableResult
    public func step() async throws -> Int {
        guard haltReason == nil else { return 0 }
        let importer = self.importer
        let blobs = try await l1.blobs(rollup: store.rollup.id, from: try importer.nextSeq())
        for blob in blobs {
            guard blob.commitment == Hash.sha256(blob.frame) else {
                throw RPCClient.TransportError.malformedResponse(
                    "blob \(blob.header.seq)'s bytes do not match its commitment")
            }
            let record = PostedBatch(header: blob.header, l1Height: blob.l1Height, frame: blob.frame)
            let outcome = try await importer.run(record) { key in
                try await self.l1.fact(rollup: key.rollup, index: key.index)
            }
            // News only when it derived blocks (a re-run of a batch the store holds derives none).
            if let reason = outcome.undecodable, outcome.blocks > 0 {
                logger.warning(
                    "batch not in DA; its blocks derive as empty blocks",
                    metadata: [
                        "batch.seq": "\(blob.header.seq)",
                        "batch.blocks": "\(blob.header.firstHeight)…\(blob.header.lastHeight)", "reason": "\(reason)",
                    ])
            }
            // The first disagreement is news; the ones after it follow from it.
            let firstFault = outcome.faults.isEmpty ? nil : try self.firstFault()?.height
            for fault in outcome.faults {
                logger.log(
                    level: firstFault == fault.height ? .warning : .debug, "posted block disagrees with re-execution",
                    metadata: [
                        "block.height": "\(fault.height)", "differences": "\(fault.differences.joined(separator: "; "))",
                    ])
            }
            switch outcome.stop {
            case nil: continue
            case .gap(let why, let next):
                halt(why, before: next)
            case .diverged(let why, let height):
                diverged.withLock { $0 = why }
                logger.critical(
                    "store diverges from the L1", metadata: ["block.height": "\(height)", "reason": "\(why)"])
                halt(why, before: height)
            case .mismatch(let why, let height):
                // Not under `.keepClaim`; kept total.
                halt(why, before: height)
            }
            return 0
        }
        return blobs.count
    }

    /// Steps until no new blob arrives.
    public func catchUp() async throws {
        while try await step() > 0 {}
    }
}

/// THE node's view of the L1: the newest L1 block and status, polled together with the outputs
/// of every rollup — its own (for the proposer and the challenger) and every peer's (whose facts
/// its relays are checked against, as of that block). Each poll fetches only what may still change
/// (from each rollup's first pending output) and publishes an update to every subscriber
/// (`updates()`), so the services that need the L1's outputs consume one view instead of each
/// downloading them. (Pushed events can later replace the polling here alone.)
public final class L1Watcher: Sendable {
    let l1: L1Client
    let own: RollupID?
    let peers: [RollupID]
    struct Snapshot {
        var origin: L1Origin = .none
        var status: L1Status?
        /// Peers' outputs as facts (what relays are checked against).
        var facts: [RollupIndex: L1OutputFact] = [:]
        /// Every watched rollup's outputs, by index.
        var outputs: [RollupID: [L1Output]] = [:]
        /// Per rollup, the first output index that may still change (pending).
        var firstOpen: [RollupID: UInt64] = [:]
    }
    let snapshot = Mutex(Snapshot())
    /// The subscribers of `updates()`, by a number given at subscription.
    let subscribers = Mutex<(next: UInt64, all: [UInt64: AsyncStream<Void>.Continuation])>((0, [:]))

    /// Watches `own`'s outputs and the `peers`' outputs and facts.
    public init(l1: L1Client, own: RollupID? = nil, peers: [RollupID] = []) {
        self.l1 = l1
        self.own = own
        self.peers = peers
    }

    public var origin: L1Origin { snapshot.withLock { $0.origin } }
    public var lastStatus: L1Status? { snapshot.withLock { $0.status } }

    /// The origin and the L1 facts as of it, read together.
    public var view: (origin: L1Origin, view: any L1View) {
        snapshot.withLock { ($0.origin, L1Facts($0.facts)) }
    }

    /// The last status and `rollup`'s outputs with their statuses as of it, read together (nil
    /// before the first successful poll).
    public func outputs(ofWatched rollup: RollupID) -> (status: L1Status, outputs: [L1Output])? {
        snapshot.withLock { snap in snap.status.map { ($0, snap.outputs[rollup] ?? []) } }
    }

    /// An update after every successful poll (only the newest is kept for a slow consumer); ends
    /// when the consumer stops iterating.
    public func updates() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = subscribers.withLock { s -> UInt64 in
            defer { s.next += 1 }
            s.all[s.next] = continuation
            return s.next
        }
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.all.removeValue(forKey: id) } }
        return stream
    }

    /// Polls once; returns the status, nil when the L1 is unreachable.
    @discardableResult
    public func poll() async -> L1Status? {
        guard let s = try? await l1.status() else { return nil }
        // Outputs fetched after the status: anything final as of its height is already settled.
        var fetched: [RollupID: (from: UInt64, outputs: [L1Output])] = [:]
        for rollup in (own.map { [$0] } ?? []) + peers {
            let from = snapshot.withLock { $0.firstOpen[rollup] ?? 0 }
            guard let outputs = try? await l1.outputs(rollup: rollup, from: from) else { return nil }
            fetched[rollup] = (from, outputs)
        }
        snapshot.withLock { snap in
            for (rollup, (from, outputs)) in fetched {
                if rollup != own {
                    for o in outputs { snap.facts[RollupIndex(rollup, o.index)] = o.fact }
                }
                snap.outputs[rollup] = (snap.outputs[rollup] ?? []).filter { $0.index < from } + outputs
                if let open = outputs.first(where: { $0.status == .pending }) {
                    snap.firstOpen[rollup] = open.index
                } else if let last = outputs.last {
                    snap.firstOpen[rollup] = last.index + 1
                }
            }
            if s.height > snap.origin.height { snap.origin = L1Origin(height: s.height, hash: s.hash) }
            snap.status = s
        }
        for continuation in subscribers.withLock({ Array($0.all.values) }) { continuation.yield() }
        return s
    }

    /// The facts of finalized standing outputs of `rollup` (a peer), newest last.
    public func outputs(of rollup: RollupID) -> [(index: UInt64, fact: L1OutputFact)] {
        snapshot.withLock { snap in
            snap.facts.filter { $0.key.rollup == rollup }.map { ($0.key.index, $0.value) }.sorted { $0.0 < $1.0 }
        }
    }
}
