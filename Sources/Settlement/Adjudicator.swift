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

/// A DA block, or why it is not there.
enum Lookup {
    case ok(Block)
    case gone(String)
}

/// Decides challenges with the same block rule the nodes run, statelessly over witnesses
/// (DESIGN §6). Pure: the same inputs give the same verdict on every L1 node. No proof, however
/// crafted, makes it trap or throw anything but a failure to read the L1's own DA.
public struct Adjudicator {
    public let rollup: RollupParameters
    public let genesis: Block
    public let network: Network

    public init(rollup: RollupParameters, network: Network) throws {
        self.rollup = rollup
        self.network = network
        genesis = try rollup.genesisBlock().block
    }

    var rules: ChainRules { ChainRules(rollup, network: network) }

    /// The header the block rule gives for `block` after `parent`, executed over `tree` (the
    /// parent's post-state, which this advances).
    func rule(
        _ block: Block, parent: BlockHeader, tree: inout WitnessTree, l1: any L1View, blobL1Height: UInt64?
    ) throws -> BlockHeader {
        let ruled = try BlockRule.apply(
            block.transactions, origin: block.header.l1Origin, timestamp: block.header.timestamp, parent: parent,
            rules: rules, l1: l1, blobL1Height: blobL1Height, state: StateOverlay(base: WitnessStateReader(tree)),
            checkSignatures: true)
        try tree.apply(ruled.writes)
        return ruled.header(parent: parent, stateRoot: tree.rootHash)
    }

    /// Why re-execution over a witness could not finish: the witness lacks a key, or the state it
    /// proves holds a value no honest execution writes (then an earlier block is the fault).
    static func unexecutable(_ error: any Error, _ what: String) -> Verdict {
        if let e = error as? StateTreeError { return .rejected("the witness does not cover \(what): \(e)") }
        return .rejected("\(what) cannot be executed on the state the witness proves: \(error)")
    }

    /// Judges `proof` against `output`, disputable after `anchor`, given the DA chain, the height at
    /// which the DA chain is proven broken (if it is), and whether the output was proposed by the
    /// rollup's own proposer (whose batcher posted the DA chain). Throws only what reading `da` throws.
    public func judge(
        _ proof: FraudProof, output: Output, anchor: Anchor, brokenAt: UInt64?, da: any DataAvailability,
        l1: any L1View = NoL1(), byRollupProposer: Bool = true
    ) throws -> Verdict {
        var cache: [UInt64: Block] = [:]
        // A height no posted batch covers makes the output unprovable, whatever the proof's kind; the
        // L1 checks the whole range for a notInDA proof only. A height whose blob does not decode is
        // the empty block after the DA block below it (`BlockRule.emptyBlock`).
        func daBlock(_ height: UInt64) throws -> Lookup {
            var pending: [UInt64] = []
            var h = height
            var base: Block?
            while base == nil {
                if h == 0 {
                    base = genesis
                } else if let b = cache[h] {
                    base = b
                } else {
                    switch try da.block(at: h) {
                    case .found(let b):
                        cache[h] = b
                        base = b
                    case .missing: return .gone("block \(h) is not in DA: no posted batch covers it")
                    case .undecodable:
                        pending.append(h)
                        h -= 1
                    }
                }
            }
            var block = base!
            for k in pending.reversed() {
                block = BlockRule.emptyBlock(after: block.header)
                cache[k] = block
            }
            return .ok(block)
        }
        let H = output.l2Height
        switch proof {
        case .notInDA:
            guard H > anchor.height else {
                return .rejected("the output's height \(H) is not above the anchor \(anchor.height)")
            }
            for h in (anchor.height + 1)...H {
                if case .gone(let why) = try daBlock(h) { return .won(why) }
            }
            return .rejected("blocks \(anchor.height + 1)…\(H) are all in DA")

        case .output:
            let top: Block
            switch try daBlock(H) {
            case .gone(let why): return .won(why)
            case .ok(let b): top = b
            }
            if output.blockHash == top.header.hash {
                if output.matches(top.header) {
                    return .rejected("the output matches the DA header at height \(H)")
                }
                return .won(
                    "the output names the DA header \(top.header.hash) at \(H) but claims state root \(output.stateRoot) and outbox root \(output.outboxRoot); that header says \(top.header.stateRoot) and \(top.header.outboxRoot)"
                )
            }
            // The output does not adopt the posted header. Only the rollup's own proposer contradicts
            // its own posted chain by that; anyone else may be proposing the re-executed chain over a
            // faulty posted one, which only re-execution (`span`) can refute.
            guard byRollupProposer else {
                return .rejected(
                    "the output was not proposed by \(rollup.name)'s proposer and does not adopt the DA header at \(H): only a span proof can dispute it"
                )
            }
            if let brokenAt, brokenAt <= H {
                return .rejected(
                    "the DA chain is proven broken at \(brokenAt): an output above it that does not adopt the DA header can only be disputed by a span proof"
                )
            }
            return .won(
                "the output claims block \(output.blockHash) state root \(output.stateRoot) outbox root \(output.outboxRoot); the DA header at \(H) is \(top.header.hash) with state root \(top.header.stateRoot) and outbox root \(top.header.outboxRoot)"
            )

        case .block(let b, let witness):
            guard b > anchor.height, b <= H else {
                return .rejected(
                    "block \(b) is outside the output's disputable range \(anchor.height + 1)…\(H)")
            }
            let top: Block
            switch try daBlock(H) {
            case .gone(let why): return .won(why)
            case .ok(let t): top = t
            }
            guard output.matches(top.header) else {
                return .rejected(
                    "the output does not commit to the DA header at its height; dispute it with an output or span proof"
                )
            }
            // The output claims the posted chain from b − 1 up to H only where each posted header links
            // to the one below it: a link that does not hold could be a lie healed (the block above it
            // re-executed right), which only a span proof from the anchor can tell.
            var above = top.header
            var k = H
            while k >= b {
                let below: Block
                switch try daBlock(k - 1) {
                case .gone(let why): return .won(why)
                case .ok(let x): below = x
                }
                guard above.parent == below.header.hash else {
                    return .rejected(
                        "DA block \(k) names parent \(above.parent), but DA block \(k - 1) hashes to \(below.header.hash): the output does not claim the posted chain below \(k); dispute it with a span proof"
                    )
                }
                above = below.header
                k -= 1
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
            var tree: WitnessTree
            do { tree = try WitnessTree(witness: witness, expectedRoot: previous.header.stateRoot) } catch {
                return .rejected(
                    "the witness does not verify against block \(b - 1)'s state root \(previous.header.stateRoot): \(error)"
                )
            }
            let canonical: BlockHeader
            let limit = try da.l1Height(ofBlock: b)
            do {
                canonical = try rule(block, parent: previous.header, tree: &tree, l1: l1, blobL1Height: limit)
            } catch {
                return Self.unexecutable(error, "block \(b)")
            }
            let differences = BlockRule.differences(claimed: block.header, canonical: canonical)
            if differences.isEmpty { return .rejected("block \(b) is exactly what the block rule gives") }
            return .won("DA block \(b) is not what the block rule gives: \(differences.joined(separator: "; "))")

        case .span(let anchorHeader, let witness):
            guard H > anchor.height else {
                return .rejected("the output's height \(H) is not above the anchor \(anchor.height)")
            }
            guard anchorHeader.hash == anchor.blockHash, anchorHeader.height == anchor.height,
                anchorHeader.stateRoot == anchor.stateRoot
            else {
                return .rejected(
                    "the proof's anchor header hashes to \(anchorHeader.hash) at height \(anchorHeader.height); the anchor is block \(anchor.blockHash) at \(anchor.height)"
                )
            }
            var tree: WitnessTree
            do { tree = try WitnessTree(witness: witness, expectedRoot: anchor.stateRoot) } catch {
                return .rejected(
                    "the witness does not verify against the anchor's state root \(anchor.stateRoot): \(error)")
            }
            var parent = anchorHeader
            for height in (anchor.height + 1)...H {
                let posted: Block
                switch try daBlock(height) {
                case .gone(let why): return .won(why)
                case .ok(let x): posted = x
                }
                let limit = try da.l1Height(ofBlock: height)
                do {
                    parent = try rule(posted, parent: parent, tree: &tree, l1: l1, blobL1Height: limit)
                } catch {
                    return Self.unexecutable(error, "block \(height)")
                }
            }
            if output.matches(parent) {
                return .rejected(
                    "re-executing blocks \(anchor.height + 1)…\(H) from the anchor gives exactly the output")
            }
            return .won(
                "re-executing blocks \(anchor.height + 1)…\(H) gives block \(parent.hash) with state root \(parent.stateRoot); the output claims \(output.blockHash) with state root \(output.stateRoot)"
            )
        }
    }
}
