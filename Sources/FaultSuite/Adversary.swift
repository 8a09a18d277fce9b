import API
import Chain
import Config
import Devnet
import TributaryTesting
import Foundation
import Primitives
import RPC
import Settlement
import StateMachine

/// The adversarial phase: gamma's sequencer — who holds gamma's batcher and proposer keys — tells
/// lies drawn from the catalog (`Lie`, alone and combined) while gamma sends value to alpha, an
/// attacker forges messages and sends free challenges, and an honest follower of gamma and
/// alpha's relayer do their jobs. After each round the liar stops (replaced by an honest sequencer
/// synced from the L1 on a fresh datadir) and the suite checks: no false output finalized, no
/// honest output was invalidated, no unbacked value appeared on alpha, an honest output finalizes
/// once the liar stopped, the L1 kept producing blocks, and every store verifies.
extension Run {
    /// The lies a round can draw. `absurd-heights` only stalls the liar's own DA (the L1 refuses it).
    static let drawable: [Lie] = Lie.allCases

    /// The rounds that reproduce the review's findings (issue 13), run first unless a plan is given:
    /// garbage in DA under outputs claiming a forged outbox (1); a silent liar whose fallback outputs
    /// anyone used to take with a free output proof, then adopting outputs whose fault lies at or
    /// below the anchor (2, 4); an L1 origin going back, and junk under honest headers (3).
    static let findings: [[Lie]] = [
        [.undecodablePayload, .outboxRoot], [.stateRoot, .silentProposer], [.originRegression, .invalidTransaction],
    ]

    /// Rounds of lies; `plan` names each round's lies (`KIND+KIND,…`), else the findings' rounds and
    /// `rounds` random draws.
    func adversaryPhase(rounds: Int, plan: [[Lie]]?) async {
        let sets = plan ?? (Self.findings + (0..<rounds).map { _ in drawLies() })
        tally.log(
            "adversary phase: \(sets.count) rounds of lies by gamma's sequencer: "
                + sets.map { $0.map(\.rawValue).joined(separator: "+") }.joined(separator: ", "))
        do {
            try net.start("gamma-follower")
        } catch {
            await tally.violate("could not start gamma's follower: \(error)")
            return
        }
        for (i, lies) in sets.enumerated() {
            await adversaryRound(i + 1, lies)
        }
        for name in ["gamma", "gamma-follower"] {
            let status = net.stop(name)
            await tally.check(
                status == 0, "\(name) did not stop cleanly on SIGTERM (status \(status.map(String.init) ?? "-"))")
        }
    }

    /// One or two distinct lies, at random.
    func drawLies() -> [Lie] {
        let all = Self.drawable
        let first = all[random(0...(all.count - 1))]
        guard random(0...1) == 1 else { return [first] }
        let second = all[random(0...(all.count - 1))]
        return second == first ? [first] : [first, second].sorted()
    }

    /// Every output of gamma, page by page (empty when the L1 does not answer).
    func gammaOutputs() async -> [L1Output] {
        (try? await net.l1.outputs(rollup: net.rollup("gamma").id)) ?? []
    }

    /// Whether `output` claims exactly the follower's (canonical) header at its height (nil: not
    /// derived yet).
    func isCanonical(_ output: L1Output) async -> Bool? {
        guard let block = try? await net.client("gamma-follower").block(.height(output.output.l2Height), full: false)
        else { return nil }
        return output.output.matches(block.header)
    }

    func adversaryRound(_ round: Int, _ lies: [Lie]) async {
        let l1 = net.rpc("l1")
        let startHead = (try? await net.rpc("gamma-follower").call(RollupMethod.blockNumber).unsignedValue) ?? 0
        let from = startHead + UInt64(random(3...8))
        let spec = lies.map { "\($0.rawValue)@\(from)" }.joined(separator: ",")
        let l1Before = (try? await l1.call(L1Method.blockNumber).unsignedValue) ?? 0
        tally.log("adversary round \(round): gamma lies \(spec)")
        for lie in lies { await tally.inject("lie: \(lie.rawValue)") }
        // The liar: gamma's sequencer on a fresh datadir (synced from the L1), lying from `from` on.
        await replaceGamma(extra: ["--fault", spec])
        // While it lies: honest traffic to alpha with value, forged relays, free challenges.
        // Long enough for an output proposed early in it to pass its whole window unchallenged.
        let lieSeconds = Double(net.timing.windowBlocks * net.timing.l1BlockTimeMs) / 1000 * 1.5 + 4
        let until = ContinuousClock.now + .milliseconds(Int(lieSeconds * 1000))
        var sent = 0
        while ContinuousClock.now < until {
            if await sendGammaToAlpha(round: round, seq: sent) { sent += 1 }
            await forgeRelays()
            await freeChallenges()
            await sleep(ms: 700)
        }
        // The liar stops: an honest sequencer synced from the L1 takes over.
        let liarHead = (try? await net.rpc("gamma").call(RollupMethod.blockNumber).unsignedValue) ?? from
        let canonicalHead = (try? await net.rpc("gamma-follower").call(RollupMethod.blockNumber).unsignedValue) ?? 0
        // The honest replacement derives gamma from genesis on a fresh datadir (mostly before its
        // RPC answers, so the clock starts before it is launched); the time that takes grows with
        // the chain and is a sync figure, not the liveness promise. The settle clock starts once it
        // holds the canonical chain the follower held when the liar stopped.
        let syncStart = ContinuousClock.now
        await replaceGamma(extra: [])
        await tally.inject("liar replaced")
        let syncBudget = 600.0
        let synced = await eventually(syncBudget) {
            ((try? await self.net.rpc("gamma").call(RollupMethod.blockNumber).unsignedValue) ?? 0) >= canonicalHead
        }
        let syncSeconds = Double((ContinuousClock.now - syncStart).components.seconds)
        tally.log("adversary round \(round): the honest sequencer derived \(canonicalHead) blocks in \(Int(syncSeconds)) s")
        await tally.check(
            synced,
            "round \(round) (\(spec)): the honest sequencer did not derive gamma's \(canonicalHead) canonical blocks within \(Int(syncBudget)) s"
        )
        let settle = Double(net.timing.windowBlocks * net.timing.l1BlockTimeMs) / 1000 * 3 + 60
        var finalized = false
        let recovered = await eventually(settle) {
            await self.forgeRelays()
            for row in await self.gammaOutputs() where row.status == .finalized {
                if row.output.l2Height > max(liarHead, from), await self.isCanonical(row) == true {
                    finalized = true
                }
            }
            return finalized
        }
        await tally.check(
            recovered,
            "round \(round) (\(spec)): no honest output of gamma above \(max(liarHead, from)) finalized within \(Int(settle)) s of the liar stopping"
        )
        await checkAdversaryRound(round, spec: spec, l1Before: l1Before)
    }

    /// Stops gamma's sequencer, wipes its datadir and starts it again with `extra`.
    func replaceGamma(extra: [String]) async {
        net.stop("gamma")
        try? FileManager.default.removeItem(atPath: net.datadir("gamma"))
        do { try net.start("gamma", extra: extra) } catch {
            await tally.violate("gamma's sequencer did not start (\(extra)): \(error)")
        }
    }

    /// One honest message with value from gamma to alpha (through gamma's own port).
    func sendGammaToAlpha(round: Int, seq: Int) async -> Bool {
        let gamma = net.rollup("gamma"), alpha = net.rollup("alpha")
        let key = DevKeys.account(1)
        let rpc = net.rpc("gamma")
        guard let n = try? await rpc.call(RollupMethod.getNonce, [.string(key.address.hex)])["pending"]?.unsignedValue
        else { return false }
        let tx = Transaction(
            rollup: gamma.id, nonce: n, sender: key.publicKey, fee: 10_000,
            call: .sendMessage(
                destination: alpha.id, target: "bank", recipient: DevKeys.account(7).address,
                value: [AssetAmount(gamma.nativeAsset, UInt64(1000 + round * 10 + seq % 10))], payload: [])
        ).signed(by: key)
        return (try? await rpc.call(RollupMethod.sendTransaction, [.string("0x" + Hex.encode(tx.canonicalBytes))])) != nil
    }

    /// The attacker relays the message an `outbox-root` lie claims, against gamma's newest outputs.
    func forgeRelays() async {
        let gamma = net.rollup("gamma"), alpha = net.rollup("alpha")
        let forged = Lies.forgedMessage(source: gamma.id, nativeAsset: gamma.nativeAsset, destination: alpha.id)
        let proof = OutboxProof(index: 0, treeSize: 1, path: [])
        let key = DevKeys.account(9)
        let rpc = net.rpc("alpha")
        for row in await gammaOutputs().suffix(2) {
            let index = row.index
            guard let n = try? await rpc.call(RollupMethod.getNonce, [.string(key.address.hex)])["pending"]?.unsignedValue
            else { continue }
            let tx = Transaction(
                rollup: alpha.id, nonce: n, sender: key.publicKey, fee: 10_000,
                call: .relayMessage(message: forged, proof: proof, outputIndex: index)
            ).signed(by: key)
            if (try? await rpc.call(RollupMethod.sendTransaction, [.string("0x" + Hex.encode(tx.canonicalBytes))])) != nil {
                await tally.inject("forged relay")
            }
        }
    }

    /// Challenges anyone holding the challenge bond could send against every pending output: they must
    /// never win against an honest one (checked after the round). Each one the L1 judges and rejects
    /// burns the signing key's challenge bond (issue 13, finding 7a); ones over the per-block cap are
    /// refused (-32032) and ignored like the rest.
    func freeChallenges() async {
        let gamma = net.rollup("gamma")
        let key = DevKeys.key(named: gamma.proposer.name, seed: net.genesis.devSeed)
        let l1 = L1ClientLike(rpc: net.rpc("l1"))
        for row in await gammaOutputs() where row.status == .pending {
            let index = row.index
            for proof in [FraudProof.output, .notInDA] {
                let challenge = Challenge(rollup: gamma.id, outputIndex: index, proof: proof, signedBy: key)
                await l1.send(challenge)
                await tally.inject("free challenge")
            }
        }
    }

    func checkAdversaryRound(_ round: Int, spec: String, l1Before: UInt64) async {
        let label = "round \(round) (\(spec))"
        // No false output finalized; no honest output invalidated.
        for row in await gammaOutputs() {
            let index = row.index, height = row.output.l2Height
            guard row.status != .pending, let canonical = await isCanonical(row) else { continue }
            if row.status == .finalized {
                await tally.check(canonical, "\(label): gamma's false output \(index) at height \(height) finalized")
            } else if row.status == .invalidated {
                await tally.check(!canonical, "\(label): gamma's honest output \(index) at height \(height) was invalidated")
            }
        }
        // No unbacked value on alpha: what alpha holds of gamma's asset (the attacker included) is at
        // most what gamma's canonical bridge holds (read after, and it only grows here).
        let wrapped = "gamma/\(net.rollup("gamma").nativeAsset.rawValue)"
        let who = checks.holders + [Lies.attacker.publicKey.address]
        if let onAlpha = await checks.balances(on: "alpha", of: wrapped, who),
            let bridge = await checks.balances(
                on: "gamma-follower", of: net.rollup("gamma").nativeAsset.rawValue, [ModuleAccount.bridge])
        {
            let total = onAlpha.values.reduce(0, +)
            await tally.check(
                onAlpha.values.last == 0,
                "\(label): the attacker holds \(onAlpha.values.last ?? 0) \(wrapped) on alpha (a forged message was relayed)")
            await tally.check(
                total <= bridge.values[0],
                "\(label): alpha holds \(total) \(wrapped), more than gamma's bridge holds (\(bridge.values[0])): unbacked value"
            )
        } else {
            await tally.violate("\(label): could not read alpha's \(wrapped) or gamma's bridge at one height")
        }
        // The L1 kept producing blocks.
        let l1After = (try? await net.rpc("l1").call(L1Method.blockNumber).unsignedValue) ?? 0
        await tally.check(l1After > l1Before + 10, "\(label): the L1 went from block \(l1Before) to \(l1After) only")
        await net.verifyStore("gamma-follower")
        await checks.nobodyDied()
        tally.log("adversary round \(round) checked: \(await tally.violations.count) violations so far")
    }
}

/// Sends a challenge and ignores the answer (the attacker does not care whether it loses).
struct L1ClientLike {
    let rpc: RPCClient
    func send(_ challenge: Challenge) async {
        _ = try? await rpc.call(L1Method.challenge, [.string("0x" + Hex.encode(challenge.canonicalBytes))])
    }
}
