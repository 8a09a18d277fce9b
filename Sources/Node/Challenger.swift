import API
import Chain
import Config
import Foundation
import Logging
import Metrics
import Primitives
import RPC
import ServiceLifecycle
import Settlement
import StateTree
import Storage
import Synchronization

/// Watches a followed rollup's pending outputs and disputes every one that disagrees with the
/// chain this node derived from DA (DESIGN §6), with the proof that wins (docs/protocol.md,
/// "Disputes"):
///
/// * some block of the output's range is not in DA (derivation halted below it) → `notInDA`;
/// * the output names the posted header at its height but other roots → `output`;
/// * the output adopts the posted headers, the first faulty posted block lies above the anchor and
///   the posted chain links from it up to the output → `block`, with a witness of that block's keys
///   against the previous block's root;
/// * the output does not adopt the posted header, was proposed by the rollup's own proposer and no
///   break is proven at or below it → `output`;
/// * anything else (a fault at or below the anchor, a posted chain whose links do not hold, an output
///   of a fallback proposer, a proven break) → `span`: re-execution from the anchor with one witness.
public final class Challenger: Service, Sendable {
    public let deriver: Deriver
    let key: SigningKey
    let logger: Logger
    let interval: Duration
    /// Output index -> when it was last attempted (ms since start); retried after a while.
    let attempted = Mutex<[UInt64: ContinuousClock.Instant]>([:])
    /// Outputs a cheaper proof was refused against: the next attempt is a span proof, which wins
    /// against every false output whatever the posted chain looks like.
    let refused = Mutex<Set<UInt64>>([])
    let won = Counter(label: "tributary_challenges_won_total")
    let lost = Counter(label: "tributary_challenges_rejected_total")

    /// The L1 as the node's watcher last saw it: status and this rollup's outputs.
    let watcher: L1Watcher

    var store: ChainStore { deriver.store }
    var l1: L1Client { deriver.l1 }

    /// `interval`: the L1 watcher's, after four of which a challenge not yet answered is sent again.
    public init(deriver: Deriver, watcher: L1Watcher, key: SigningKey, interval: Duration, logger: Logger) {
        self.deriver = deriver
        self.watcher = watcher
        self.key = key
        self.interval = interval
        self.logger = logger
    }

    /// Checks after each update of the L1 watcher until shutdown (`ServiceLoop`; a failed check is
    /// routine, logged at debug). Throws only fatal storage errors.
    public func run() async throws {
        var loop = ServiceLoop(name: "challenger step", pace: .updates(watcher.updates()), logger: logger)
        loop.failureLevel = .debug
        try await loop.run { !(try await self.step()).isEmpty }
    }

    /// Checks every pending output once; returns the challenges the L1 accepted.
    @discardableResult
    public func step() async throws -> [ChallengeWon] {
        let rollup = store.rollup
        guard let (status, outputs) = watcher.outputs(ofWatched: rollup.id) else { return [] }
        let brokenAt = status.rollup(rollup.id)?.brokenAt
        let head = try store.head().height
        let notInDAFrom = deriver.haltHeight
        var results: [ChallengeWon] = []
        for info in outputs where info.status == .pending && info.blocksLeft > 0 {
            let o = info.output
            let anchor = anchor(before: info.index, outputs: outputs)
            let proof: FraudProof
            if let missing = notInDAFrom, o.l2Height >= missing, anchor < missing {
                proof = .notInDA
            } else {
                guard o.l2Height <= head, let mine = try store.header(at: o.l2Height) else { continue }
                if o.matches(mine) { continue }
                do {
                    proof =
                        refused.withLock { $0.contains(info.index) }
                        ? try span(to: o.l2Height, anchor: anchor)
                        : try buildProof(
                            for: o, anchor: anchor, brokenAt: brokenAt,
                            byRollupProposer: info.proposer == rollup.proposer.publicKey)
                } catch {
                    // One output whose proof cannot be built does not hold up the others.
                    if let fatal = StorageError.fatal(error) { throw fatal }
                    logger.warning(
                        "no proof built", metadata: ["output.index": "\(info.index)", "error": "\(error)"])
                    continue
                }
            }
            let now = ContinuousClock.now
            let recent = attempted.withLock { a -> Bool in
                // Retried after two L1 blocks: a window can be short, and a refused cheap proof is
                // followed by a span proof.
                if let t = a[info.index], now - t < self.interval * 4 { return true }
                a[info.index] = now
                return false
            }
            if recent { continue }
            let challenge = Challenge(rollup: rollup.id, outputIndex: info.index, proof: proof, signedBy: key)
            do {
                let answer = try await l1.challenge(challenge)
                won.increment()
                logger.notice(
                    "challenge won",
                    metadata: [
                        "output.index": "\(info.index)", "output.l2Height": "\(o.l2Height)", "proof": "\(proof.kind)",
                        "reason": "\(answer.reason)", "invalidated": "\(answer.invalidated)",
                    ])
                results.append(answer)
                // Later outputs were invalidated with it: look again next round.
                break
            } catch let error as RPCError {
                lost.increment()
                refused.withLock { _ = $0.insert(info.index) }
                logger.error(
                    "challenge rejected",
                    metadata: ["output.index": "\(info.index)", "proof": "\(proof.kind)", "reason": "\(error.message)"])
            }
        }
        return results
    }

    /// The latest standing finalized output before `index`, or genesis.
    func anchor(before index: UInt64, outputs: [L1Output]) -> UInt64 {
        outputs.last { $0.index < index && $0.status == .finalized }?.output.l2Height ?? 0
    }

    /// The proof that wins against `output` (which disagrees with this node's chain at its height),
    /// disputable after the block at `anchor`.
    public func buildProof(
        for output: Output, anchor: UInt64, brokenAt: UInt64?, byRollupProposer: Bool = true
    ) throws -> FraudProof {
        let H = output.l2Height
        guard let posted = try deriver.postedHeader(at: H) else { return .notInDA }
        if output.blockHash == posted.hash {
            // Naming the posted header with other roots contradicts that header itself.
            if !output.matches(posted) { return .output }
            if let fault = try deriver.firstFault(), fault.height > anchor, fault.height <= H,
                try postedChainLinks(from: fault.height - 1, to: H)
            {
                let (witness, _) = try store.witness(
                    replaying: [fault.posted], after: fault.height - 1,
                    l1Limits: [try deriver.blobL1Height(ofBlock: fault.height)])
                return .block(height: fault.height, witness: witness)
            }
            return try span(to: H, anchor: anchor)
        }
        if byRollupProposer, brokenAt.map({ $0 > H }) ?? true { return .output }
        return try span(to: H, anchor: anchor)
    }

    /// Whether every posted header from `low + 1` to `high` names the posted header below it.
    func postedChainLinks(from low: UInt64, to high: UInt64) throws -> Bool {
        guard var above = try deriver.postedHeader(at: high) else { return false }
        var k = high
        while k > low {
            guard let below = try deriver.postedHeader(at: k - 1), above.parent == below.hash else { return false }
            above = below
            k -= 1
        }
        return true
    }

    /// A span proof: the posted blocks after the anchor re-executed from this node's (canonical)
    /// state at the anchor.
    func span(to height: UInt64, anchor: UInt64) throws -> FraudProof {
        guard let anchorHeader = try store.header(at: anchor) else { return .notInDA }
        var blocks: [Block] = []
        if height > anchor {
            for h in (anchor + 1)...height {
                guard let b = try deriver.postedBlock(at: h) else { return .notInDA }
                blocks.append(b)
            }
        }
        let limits = try blocks.map { try deriver.blobL1Height(ofBlock: $0.header.height) }
        let (witness, _) = try store.witness(replaying: blocks, after: anchor, l1Limits: limits)
        return .span(anchor: anchorHeader, witness: witness)
    }
}
