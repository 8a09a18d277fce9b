import Primitives

/// What a rollup's blocks execute under that does not change from block to block: who it is, who
/// receives fees, which asset pays them, and the devnet's rollups.
public struct ChainRules: Sendable {
    public var rollup: RollupID
    /// Receives every transaction's fee.
    public var sequencer: Address
    public var nativeAsset: AssetName
    public var network: Network
    /// The block's byte limits (nil: none, for a lying sequencer's `oversize-block` only).
    public var bytes: BlockBytes?

    public init(
        rollup: RollupID, sequencer: Address, nativeAsset: AssetName, network: Network, bytes: BlockBytes?
    ) {
        self.rollup = rollup
        self.sequencer = sequencer
        self.nativeAsset = nativeAsset
        self.network = network
        self.bytes = bytes
    }
}

/// A block as the rule made it: what it includes, what that did, and its header once the caller
/// has committed the writes to a state tree.
public struct RuledBlock {
    public var height: UInt64
    /// The L1 origin and timestamp the block takes (the proposed ones, floored at the parent's).
    public var l1Origin: L1Origin
    public var timestamp: UInt64
    public var context: BlockContext
    public var included: [SignedTransaction]
    public var receipts: [Receipt]
    /// Candidates left out because they were invalid when their turn came.
    public var dropped: [(transaction: SignedTransaction, reason: InvalidTransaction)]
    /// Candidates left out because the block was full (not invalid).
    public var deferred: [SignedTransaction]
    /// The block's state writes in key order, every key it touched, the messages it sent.
    public var writes: [(key: Hash, value: [UInt8]?)]
    public var touchedKeys: [Hash]
    public var emitted: [Message]
    public var outboxRoot: Hash

    /// The block's header given its parent and the state root after its writes.
    public func header(parent: BlockHeader, stateRoot: Hash) -> BlockHeader {
        BlockHeader(
            rollup: context.rollup, height: height, parent: parent.hash, l1Origin: l1Origin, timestamp: timestamp,
            transactionsRoot: MerkleList.root(included.map(\.id)), stateRoot: stateRoot, outboxRoot: outboxRoot,
            receiptsRoot: BlockRule.receiptsRoot(receipts))
    }
}

/// THE block rule (docs/protocol.md, "The block rule"): how the block after `parent` follows from
/// proposed transactions, an L1 origin and a timestamp. The sequencer seals with it, derivation
/// imports posted blocks with it, the L1's `block` and `span` proofs re-execute with it, and
/// `verify` and `replay` check stored chains with it — one rule, so a posted block is a fault
/// exactly when its header differs from the header this rule gives.
///
/// * Transactions execute in order on the parent's state; each one invalid in its turn (over the
///   per-transaction byte limit, wrong rollup, nonce, unpayable fee, with `checkSignatures` a bad
///   signature) is left out. Once the next valid one would push the block's encoding past
///   `maxBlockBytes`, it and every later one are left out too (deferred, not invalid).
/// * The L1 origin never decreases: a proposed origin older than the parent's is replaced by the
///   parent's. The timestamp never decreases the same way.
/// * The block executes at L1 height `min(origin, the L1 height of the blob carrying it)`.
/// * Everything else in the header is computed: parent hash, transactions root over the included
///   ids, state, outbox and receipts roots.
///
/// Pure: no clock, no I/O, no unordered iteration; the same inputs give the same block everywhere.
public enum BlockRule {
    /// The L1 origin a block takes: the proposed one, but never older than the parent's.
    public static func l1Origin(proposed: L1Origin, parent: BlockHeader) -> L1Origin {
        proposed.height < parent.l1Origin.height ? parent.l1Origin : proposed
    }

    /// The timestamp a block takes: the proposed one, but never earlier than the parent's.
    public static func timestamp(proposed: UInt64, parent: BlockHeader) -> UInt64 {
        max(proposed, parent.timestamp)
    }

    /// The L1 height a block executes at: its origin's, but never above the L1 block that accepted
    /// the blob carrying it (nil: not posted yet, as for the sequencer's own new block).
    public static func l1Height(origin: L1Origin, blobL1Height: UInt64?) -> UInt64 {
        guard let blobL1Height else { return origin.height }
        return min(origin.height, blobL1Height)
    }

    /// The receipts root of a header: the list root of the receipts' hashes.
    public static func receiptsRoot(_ receipts: [Receipt]) -> Hash {
        MerkleList.root(receipts.map { Hash.sha256($0.canonicalBytes) })
    }

    /// The context the block after `parent` executes in.
    public static func context(
        _ rules: ChainRules, height: UInt64, origin: L1Origin, blobL1Height: UInt64?, l1: any L1View
    ) -> BlockContext {
        BlockContext(
            rollup: rules.rollup, height: height, sequencer: rules.sequencer, nativeAsset: rules.nativeAsset,
            l1Height: l1Height(origin: origin, blobL1Height: blobL1Height), network: rules.network, l1: l1)
    }

    /// Applies the rule to `candidates` proposed after `parent`, over `state` (the parent's
    /// post-state). Throws only what the state throws (a store error, a witness that lacks a key,
    /// a stored value that does not decode): invalid transactions are left out, not thrown.
    public static func apply(
        _ candidates: [SignedTransaction], origin proposedOrigin: L1Origin, timestamp proposedTimestamp: UInt64,
        parent: BlockHeader, rules: ChainRules, l1: any L1View, blobL1Height: UInt64?, state: StateOverlay,
        checkSignatures: Bool
    ) throws -> RuledBlock {
        let height = parent.height + 1
        let origin = l1Origin(proposed: proposedOrigin, parent: parent)
        let context = context(rules, height: height, origin: origin, blobL1Height: blobL1Height, l1: l1)
        let result = try Executor.include(
            candidates, context: context, state: state, checkSignatures: checkSignatures, bytes: rules.bytes)
        let outboxRoot = try Messaging.frontier(state).root
        return RuledBlock(
            height: height, l1Origin: origin, timestamp: timestamp(proposed: proposedTimestamp, parent: parent),
            context: context, included: result.included, receipts: result.receipts, dropped: result.dropped,
            deferred: result.deferred,
            writes: state.writes, touchedKeys: state.touchedKeys, emitted: state.emitted, outboxRoot: outboxRoot)
    }

    /// The block at a height whose blob is not in DA (its frame does not decode to its header's
    /// blocks): an empty block after `parent`, with the parent's L1 origin and timestamp — exactly
    /// what `apply` gives for no transactions after an honest parent, so a rollup whose batcher
    /// posted garbage goes on (without what the garbage held) instead of stopping for good.
    public static func emptyBlock(after parent: BlockHeader) -> Block {
        Block(
            header: BlockHeader(
                rollup: parent.rollup, height: parent.height + 1, parent: parent.hash, l1Origin: parent.l1Origin,
                timestamp: parent.timestamp, transactionsRoot: MerkleList.root([]), stateRoot: parent.stateRoot,
                outboxRoot: parent.outboxRoot, receiptsRoot: receiptsRoot([])),
            transactions: [])
    }

    /// Which of a posted header's fields disagree with the header the rule gives (empty: none —
    /// the posted block is faithful).
    public static func differences(claimed: BlockHeader, canonical: BlockHeader) -> [String] {
        var out: [String] = []
        if claimed.rollup != canonical.rollup { out.append("rollup \(claimed.rollup), expected \(canonical.rollup)") }
        if claimed.height != canonical.height { out.append("height \(claimed.height), expected \(canonical.height)") }
        if claimed.parent != canonical.parent { out.append("parent \(claimed.parent), canonical \(canonical.parent)") }
        if claimed.l1Origin != canonical.l1Origin {
            out.append(
                "L1 origin \(claimed.l1Origin.height), the rule gives \(canonical.l1Origin.height) (an origin never decreases)"
            )
        }
        if claimed.timestamp != canonical.timestamp {
            out.append("timestamp \(claimed.timestamp), the rule gives \(canonical.timestamp) (it never decreases)")
        }
        if claimed.transactionsRoot != canonical.transactionsRoot {
            out.append(
                "transactions root \(claimed.transactionsRoot), canonical \(canonical.transactionsRoot) (over the valid transactions)"
            )
        }
        if claimed.stateRoot != canonical.stateRoot {
            out.append("state root \(claimed.stateRoot), re-executed \(canonical.stateRoot)")
        }
        if claimed.receiptsRoot != canonical.receiptsRoot {
            out.append("receipts root \(claimed.receiptsRoot), re-executed \(canonical.receiptsRoot)")
        }
        if claimed.outboxRoot != canonical.outboxRoot {
            out.append("outbox root \(claimed.outboxRoot), re-executed \(canonical.outboxRoot)")
        }
        return out
    }
}
