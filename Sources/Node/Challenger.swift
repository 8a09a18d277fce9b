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
/// chain this node derived from DA (DESIGN §6), choosing the cheapest proof that wins:
///
/// * the output adopts the posted headers and a posted block is the first wrong one → `block`
///   proof with a witness of that block's keys against the previous block's root;
/// * the output adopts a posted header at or after a proven break → `output`;
/// * the output disagrees with the posted header at its height (and the DA chain is unbroken) →
///   `output`;
/// * otherwise (above a break) → `span`: re-execution from the anchor with one witness.
public final class Challenger: Service, Sendable {
    public let deriver: Deriver
    let key: SigningKey
    let logger: Logger
    let interval: Duration
    /// Output index -> when it was last attempted (ms since start); retried after a while.
    let attempted = Mutex<[UInt64: ContinuousClock.Instant]>([:])
    let won = Counter(label: "tributary_challenges_won_total")
    let lost = Counter(label: "tributary_challenges_rejected_total")

    var store: ChainStore { deriver.store }
    var l1: L1Client { deriver.l1 }

    public init(deriver: Deriver, key: SigningKey, interval: Duration, logger: Logger) {
        self.deriver = deriver
        self.key = key
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await self.loop() }
    }

    /// Throws only fatal storage errors.
    func loop() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do { try await step() } catch {
                if let fatal = StorageError.fatal(error) { throw fatal }
                logger.debug("challenger step failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Checks every pending output once; returns the challenges the L1 accepted.
    @discardableResult
    public func step() async throws -> [JSONValue] {
        let rollup = store.rollup
        let status = try await l1.status()
        let brokenAt = status.rollups[rollup.id.rawValue]?.brokenAt
        let outputs = try await l1.outputs(rollup: rollup.id)
        let head = try store.head().height
        var results: [JSONValue] = []
        for info in outputs where info.status == "pending" && info.blocksLeft > 0 {
            let o = info.output
            guard o.l2Height <= head, let mine = try store.header(at: o.l2Height) else { continue }
            if o.matches(mine) { continue }
            let now = ContinuousClock.now
            let recent = attempted.withLock { a -> Bool in
                if let t = a[info.index], now - t < .seconds(5) { return true }
                a[info.index] = now
                return false
            }
            if recent { continue }
            let anchor = anchor(before: info.index, outputs: outputs)
            let proof = try buildProof(for: o, anchor: anchor, brokenAt: brokenAt)
            let challenge = Challenge(rollup: rollup.id, outputIndex: info.index, proof: proof, signedBy: key)
            do {
                let answer = try await l1.challenge(challenge)
                won.increment()
                logger.notice(
                    "challenge won",
                    metadata: [
                        "output.index": "\(info.index)", "output.l2Height": "\(o.l2Height)", "proof": "\(proof.kind)",
                        "reason": "\(answer["reason"]?.stringValue ?? "")",
                        "invalidated": "\(answer["invalidated"]?.unsignedValue ?? 0)",
                    ])
                results.append(answer)
                // Later outputs were invalidated with it: look again next round.
                break
            } catch let error as RPCError {
                lost.increment()
                logger.error(
                    "challenge rejected",
                    metadata: ["output.index": "\(info.index)", "proof": "\(proof.kind)", "reason": "\(error.message)"])
            }
        }
        return results
    }

    /// The latest standing finalized output before `index`, or genesis.
    func anchor(before index: UInt64, outputs: [L1Client.OutputInfo]) -> UInt64 {
        outputs.last { $0.index < index && $0.status == "finalized" }?.output.l2Height ?? 0
    }

    /// The proof that wins against `output` (which disagrees with this node's chain).
    public func buildProof(for output: Output, anchor: UInt64, brokenAt: UInt64?) throws -> FraudProof {
        let posted = try deriver.postedHeader(at: output.l2Height)
        let adopts = posted?.hash == output.blockHash
        if adopts {
            if let brokenAt, brokenAt <= output.l2Height { return .output }
            if let fault = try deriver.firstFault(), fault.height > anchor, fault.height <= output.l2Height {
                let (witness, _) = try store.witness(
                    replaying: [fault.posted], after: fault.height - 1,
                    l1Limits: [try deriver.blobL1Height(ofBlock: fault.height)])
                return .block(height: fault.height, witness: witness)
            }
            // The posted chain agrees with re-execution up to the output's height, yet the output
            // (which adopts it) disagrees with this node: only possible above a break.
            return .output
        }
        let fault = try deriver.firstFault()
        let aboveBreak =
            (brokenAt.map { $0 <= output.l2Height } ?? false) || (fault.map { $0.height <= output.l2Height } ?? false)
        if !aboveBreak { return .output }
        var blocks: [Block] = []
        if output.l2Height > anchor {
            for h in (anchor + 1)...output.l2Height {
                guard let b = try deriver.postedBlock(at: h) else { return .notInDA }
                blocks.append(b)
            }
        }
        let limits = try blocks.map { try deriver.blobL1Height(ofBlock: $0.header.height) }
        let (witness, _) = try store.witness(replaying: blocks, after: anchor, l1Limits: limits)
        return .span(witness: witness)
    }
}
