import Chain
import Config
import Primitives
import StateMachine
import StateTree

/// A DA block as the L1 (or a follower) finds it.
public enum DABlock: Sendable {
    case found(Block)
    /// No posted blob covers the height.
    case missing
    /// The blob covering the height does not decode to its header's blocks.
    case undecodable(seq: UInt64, BatchError)
}

/// Read access to one rollup's posted batches, by height.
public protocol DataAvailability {
    func block(at height: UInt64) throws -> DABlock
    /// The L1 height of the blob holding block `height` (nil: unknown, no limit).
    func l1Height(ofBlock height: UInt64) throws -> UInt64?
}

extension DataAvailability {
    public func l1Height(ofBlock height: UInt64) throws -> UInt64? { nil }
}

/// The trusted starting point of a dispute: the latest finalized output before the challenged one,
/// or the rollup's genesis block.
public struct Anchor: Hashable, Sendable {
    public var height: UInt64
    public var blockHash: Hash
    public var stateRoot: Hash

    public init(height: UInt64, blockHash: Hash, stateRoot: Hash) {
        self.height = height
        self.blockHash = blockHash
        self.stateRoot = stateRoot
    }
}

/// The L1's decision on a challenge.
public enum Verdict: Hashable, Sendable {
    case won(String)
    case rejected(String)

    public var isWon: Bool { if case .won = self { true } else { false } }
    public var reason: String {
        switch self {
        case .won(let r), .rejected(let r): r
        }
    }
}

/// The canonical chain rule (docs/protocol.md, "Derivation"): a block of the canonical chain takes
/// its transactions, L1 origin and timestamp from the DA block at its height, leaves out every
/// transaction invalid in its turn, and computes its own parent link and roots. For an honest
/// sequencer the canonical header equals the posted one byte for byte.
public enum Derivation {
    /// The canonical header of a DA block after executing it.
    public static func canonicalHeader(
        of da: BlockHeader, parentHash: Hash, included: [SignedTransaction], receipts: [Receipt], stateRoot: Hash,
        outboxRoot: Hash
    ) -> BlockHeader {
        BlockHeader(
            rollup: da.rollup, height: da.height, parent: parentHash, l1Origin: da.l1Origin, timestamp: da.timestamp,
            transactionsRoot: MerkleList.root(included.map(\.id)), stateRoot: stateRoot, outboxRoot: outboxRoot,
            receiptsRoot: ChainStore.receiptsRoot(receipts))
    }

    /// The L1 height a posted block executes at: its L1 origin's, but never above the L1 block
    /// that accepted the blob carrying it (an origin cannot be newer than its own blob, so what
    /// is final as of it is settled when anyone derives the block).
    public static func effectiveL1Height(_ origin: L1Origin, limit: UInt64?) -> UInt64 {
        guard let limit else { return origin.height }
        return min(origin.height, limit)
    }

    /// Which of a posted header's claims disagree with the canonical header (empty: none).
    public static func differences(claimed: BlockHeader, canonical: BlockHeader) -> [String] {
        var out: [String] = []
        if claimed.parent != canonical.parent { out.append("parent \(claimed.parent), canonical \(canonical.parent)") }
        if claimed.transactionsRoot != canonical.transactionsRoot {
            out.append("transactions root \(claimed.transactionsRoot), canonical \(canonical.transactionsRoot)")
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

/// A DA block, or why it is not there.
enum Lookup {
    case ok(Block)
    case gone(String)
}

/// Decides challenges with the same state-machine code the nodes run, statelessly over witnesses
/// (DESIGN §6). Pure: the same inputs give the same verdict on every L1 node.
public struct Adjudicator {
    public let rollup: RollupParameters
    public let genesis: Block
    public let network: Network

    public init(rollup: RollupParameters, network: Network) throws {
        self.rollup = rollup
        self.network = network
        genesis = try ChainStore.genesisBlock(rollup).block
    }

    func context(_ header: BlockHeader, l1: any L1View, limit: UInt64?) -> BlockContext {
        BlockContext(
            rollup: rollup.id, height: header.height, sequencer: rollup.sequencer.publicKey.address,
            nativeAsset: rollup.nativeAsset, l1Height: Derivation.effectiveL1Height(header.l1Origin, limit: limit),
            network: network, l1: l1)
    }

    /// Judges `proof` against `output`, disputable after `anchor`, given the DA chain and the
    /// height at which the DA chain is proven broken (if it is).
    public func judge(
        _ proof: FraudProof, output: Output, anchor: Anchor, brokenAt: UInt64?, da: any DataAvailability,
        l1: any L1View = NoL1()
    ) throws -> Verdict {
        var cache: [UInt64: Block] = [:]
        // Any block of the output's range that is not in DA makes the output unprovable, whatever
        // the proof's kind; the L1 checks the whole range for a notInDA proof only.
        func daBlock(_ height: UInt64) throws -> Lookup {
            if height == 0 { return .ok(genesis) }
            if let b = cache[height] { return .ok(b) }
            switch try da.block(at: height) {
            case .found(let b):
                cache[height] = b
                return .ok(b)
            case .missing: return .gone("block \(height) is not in DA: no posted batch covers it")
            case .undecodable(let seq, let error):
                return .gone("block \(height) is not in DA: batch \(seq) \(error)")
            }
        }
        switch proof {
        case .notInDA:
            guard output.l2Height > anchor.height else {
                return .rejected("the output's height \(output.l2Height) is not above the anchor \(anchor.height)")
            }
            for h in (anchor.height + 1)...output.l2Height {
                if case .gone(let why) = try daBlock(h) { return .won(why) }
            }
            return .rejected("blocks \(anchor.height + 1)…\(output.l2Height) are all in DA")

        case .output:
            let top: Block
            switch try daBlock(output.l2Height) {
            case .gone(let why): return .won(why)
            case .ok(let b): top = b
            }
            if let brokenAt, brokenAt <= output.l2Height {
                if output.blockHash == top.header.hash {
                    return .won(
                        "the output adopts the DA header at \(output.l2Height), but the DA chain is proven broken at \(brokenAt)"
                    )
                }
                return .rejected(
                    "the DA chain is proven broken at \(brokenAt); an output above it can only be disputed by a span proof"
                )
            }
            if output.matches(top.header) {
                return .rejected("the output matches the DA header at height \(output.l2Height)")
            }
            return .won(
                "the output claims block \(output.blockHash) state root \(output.stateRoot) outbox root \(output.outboxRoot); the DA header at \(output.l2Height) is \(top.header.hash) with state root \(top.header.stateRoot) and outbox root \(top.header.outboxRoot)"
            )

        case .block(let b, let witness):
            guard b > anchor.height, b <= output.l2Height else {
                return .rejected(
                    "block \(b) is outside the output's disputable range \(anchor.height + 1)…\(output.l2Height)")
            }
            let top: Block
            switch try daBlock(output.l2Height) {
            case .gone(let why): return .won(why)
            case .ok(let t): top = t
            }
            guard output.matches(top.header) else {
                return .rejected(
                    "the output does not commit to the DA header at its height; dispute it with an output or span proof"
                )
            }
            let previous: Block, block: Block
            switch try daBlock(b - 1) {
            case .gone(let why): return .won(why)
            case .ok(let p): previous = p
            }
            switch try daBlock(b) {
            case .gone(let why): return .won(why)
            case .ok(let x): block = x
            }
            let h = block.header, p = previous.header
            guard h.parent == p.hash else {
                return .won("block \(b) names parent \(h.parent), but block \(b - 1) hashes to \(p.hash)")
            }
            guard h.l1Origin.height >= p.l1Origin.height else {
                return .won(
                    "block \(b)'s L1 origin \(h.l1Origin.height) is older than its parent's \(p.l1Origin.height)")
            }
            guard h.transactionsRoot == MerkleList.root(block.transactions.map(\.id)) else {
                return .won("block \(b)'s transactions root does not match its transactions")
            }
            var tree: WitnessTree
            do { tree = try WitnessTree(witness: witness, expectedRoot: p.stateRoot) } catch {
                return .rejected(
                    "the witness does not verify against block \(b - 1)'s state root \(p.stateRoot): \(error)")
            }
            let outcome: BlockOutcome
            do {
                outcome = try Executor.execute(
                    block.transactions, context: context(h, l1: l1, limit: try da.l1Height(ofBlock: b)),
                    base: WitnessStateReader(tree),
                    checkSignatures: true)
                try tree.apply(outcome.writes)
            } catch let invalid as InvalidTransaction {
                return .won("block \(b) includes an invalid transaction: \(invalid)")
            } catch let error as StateTreeError {
                return .rejected("the witness does not cover block \(b): \(error)")
            }
            let receiptsRoot = ChainStore.receiptsRoot(outcome.receipts)
            if tree.rootHash != h.stateRoot {
                return .won(
                    "block \(b) claims state root \(h.stateRoot); re-executed over the witness it is \(tree.rootHash)")
            }
            if receiptsRoot != h.receiptsRoot {
                return .won("block \(b) claims receipts root \(h.receiptsRoot); re-executed it is \(receiptsRoot)")
            }
            if h.outboxRoot != outcome.outboxRoot {
                return .won("block \(b) claims outbox root \(h.outboxRoot); re-executed it is \(outcome.outboxRoot)")
            }
            return .rejected("block \(b) re-executes to exactly its claimed roots")

        case .span(let witness):
            guard output.l2Height > anchor.height else {
                return .rejected("the output's height \(output.l2Height) is not above the anchor \(anchor.height)")
            }
            var tree: WitnessTree
            do { tree = try WitnessTree(witness: witness, expectedRoot: anchor.stateRoot) } catch {
                return .rejected(
                    "the witness does not verify against the anchor's state root \(anchor.stateRoot): \(error)")
            }
            var parentHash = anchor.blockHash
            var header: BlockHeader? = nil
            let availability = da
            for height in (anchor.height + 1)...output.l2Height {
                let da: Block
                switch try daBlock(height) {
                case .gone(let why): return .won(why)
                case .ok(let x): da = x
                }
                do {
                    let state = StateOverlay(base: WitnessStateReader(tree))
                    let result = try Executor.include(
                        da.transactions,
                        context: context(da.header, l1: l1, limit: try availability.l1Height(ofBlock: height)),
                        state: state, checkSignatures: true)
                    let outboxRoot = try Messaging.frontier(state).root
                    try tree.apply(state.writes)
                    let canonical = Derivation.canonicalHeader(
                        of: da.header, parentHash: parentHash, included: result.included, receipts: result.receipts,
                        stateRoot: tree.rootHash, outboxRoot: outboxRoot)
                    parentHash = canonical.hash
                    header = canonical
                } catch let error as StateTreeError {
                    return .rejected("the witness does not cover block \(height): \(error)")
                }
            }
            guard let header else { return .rejected("empty span") }
            if output.matches(header) {
                return .rejected(
                    "re-executing blocks \(anchor.height + 1)…\(output.l2Height) from the anchor gives exactly the output"
                )
            }
            return .won(
                "re-executing blocks \(anchor.height + 1)…\(output.l2Height) gives block \(header.hash) with state root \(header.stateRoot); the output claims \(output.blockHash) with state root \(output.stateRoot)"
            )
        }
    }
}
