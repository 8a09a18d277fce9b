import API
import Config
import Devnet
import TributaryTesting
import Foundation
import Primitives
import RPC
import StateMachine

/// The claims checked after faults. Each records its checks in the tally; none throws.
struct Checks {
    let net: FaultNet
    let seen: Observations
    var tally: Tally { net.tally }

    /// A restarted sequencer still serves every block the suite saw acknowledged, unchanged: its
    /// head is not below the newest one seen and the block there has the same hash (so, through the
    /// parent hashes, every block and transaction below it is the one acknowledged); a sample of
    /// transactions is looked up by id.
    func sequencerKeptEverything(_ rollup: String, rng: inout SplitMix64) async {
        let rpc = net.rpc(rollup)
        guard let newest = await seen.head[rollup], let block = await seen.block(rollup, newest) else { return }
        var head: UInt64 = 0
        let up = await eventually(30) {
            head = (try? await rpc.call(RollupMethod.blockNumber).unsignedValue) ?? 0
            return head >= newest
        }
        await tally.check(up, "\(rollup) restarted at height \(head), below the acknowledged block \(newest)")
        guard up else { return }
        let served = try? await rpc.call(RollupMethod.getBlock, [.unsigned(newest)])["hash"]?.stringValue
        await tally.check(
            served == block.hash, "\(rollup) block \(newest) is \(served ?? "missing"), was \(block.hash)")
        if served == block.hash { await tally.passed(await seen.transactions(of: rollup, through: newest)) }
        for (id, height) in await seen.sampleTransactions(of: rollup, 10, &rng) {
            let tx = try? await rpc.call(RollupMethod.getTransaction, [.string(id)])
            await tally.check(
                tx?["status"]?.stringValue == "included" && tx?["blockHeight"]?.unsignedValue == height,
                "\(rollup): acknowledged transaction \(id) at \(height) is now \(tx.map { "\($0)" } ?? "unknown")")
        }
    }

    /// A follower reaches what the L1 holds of its rollup and agrees with the sequencer's blocks.
    func followerAgrees(_ rollup: String, follower name: String? = nil, within seconds: Double = 90) async {
        let label = name ?? "\(rollup)-follower"
        let follower = net.rpc(label)
        guard let target = await daHeight(rollup), target > 0 else { return }
        var head: UInt64 = 0
        let caught = await eventually(seconds) {
            head = (try? await follower.call(RollupMethod.blockNumber).unsignedValue) ?? 0
            return head >= target
        }
        await tally.check(
            caught, "\(label) at \(head) did not reach the DA height \(target) in \(Int(seconds)) s")
        guard caught, let mine = await seen.block(rollup, target) else { return }
        let derived = try? await follower.call(RollupMethod.getBlock, [.unsigned(target)])["hash"]?.stringValue
        await tally.check(
            derived == mine.hash,
            "\(label) derived block \(target) as \(derived ?? "missing"), the sequencer \(mine.hash)")
    }

    func daHeight(_ rollup: String) async -> UInt64? {
        try? await net.l1.status().rollup(net.rollup(rollup).id)?.daHeight
    }

    /// A restarted L1 still has every block, blob and output it acknowledged.
    func l1KeptEverything() async {
        let l1 = net.rpc("l1")
        let newest = await seen.l1Head
        var height: UInt64 = 0
        let up = await eventually(30) {
            height = (try? await l1.call(L1Method.blockNumber).unsignedValue) ?? 0
            return height >= newest
        }
        await tally.check(up, "the L1 restarted at height \(height), below the acknowledged \(newest)")
        if let hash = await seen.l1Hashes[newest] {
            let served = try? await net.l1.block(at: newest)?.header.hash.hex
            await tally.check(served == hash, "L1 block \(newest) is \(served ?? "missing"), was \(hash)")
        }
        guard let status = try? await net.l1.status() else {
            await tally.violate("the L1 does not answer l1_status after its restart")
            return
        }
        for row in status.rollups {
            let hadBlobs = await seen.l1Blobs[row.name] ?? 0, hadOutputs = await seen.l1Outputs[row.name] ?? 0
            await tally.check(
                row.nextSeq >= hadBlobs, "the L1 holds \(row.nextSeq) blobs of \(row.name) after its restart, had \(hadBlobs)")
            await tally.check(
                row.outputCount >= hadOutputs,
                "the L1 holds \(row.outputCount) outputs of \(row.name) after its restart, had \(hadOutputs)")
        }
    }

    /// Every output of an honest rollup stands and claims the sequencer's own state root.
    func outputsHonest(_ rollup: String) async {
        guard let outputs = try? await net.l1.outputs(rollup: net.rollup(rollup).id) else {
            await tally.violate("l1_getOutputs \(rollup) failed")
            return
        }
        for output in outputs {
            let index = output.index, height = output.output.l2Height
            await tally.check(
                output.status != .invalidated, "\(rollup) output \(index) (height \(height)) was invalidated")
            guard let mine = await seen.block(rollup, height) else { continue }
            await tally.check(
                output.output.stateRoot.hex == mine.stateRoot,
                "\(rollup) output \(index) claims state root \(output.output.stateRoot) at \(height), the chain has \(mine.stateRoot)"
            )
        }
    }

    /// The L1 holds each of the rollup's batches once: sequence numbers 0, 1, 2, … covering
    /// consecutive block ranges (no batch posted twice, none skipped).
    func blobsInOrder(_ rollup: String) async {
        let id = net.rollup(rollup).id
        var seq: UInt64 = 0, next: UInt64 = 1
        while true {
            guard let blobs = try? await net.l1.blobInfos(rollup: id, from: seq) else {
                await tally.violate("l1_getBlobs \(rollup) from \(seq) failed")
                return
            }
            if blobs.isEmpty { break }
            for blob in blobs {
                let h = blob.header
                await tally.check(h.seq == seq, "\(rollup) blob at position \(seq) has sequence number \(h.seq)")
                await tally.check(h.firstHeight == next, "\(rollup) blob \(seq) starts at \(h.firstHeight), expected \(next)")
                next = h.lastHeight + 1
                seq += 1
            }
        }
    }

    /// Every acknowledged message was relayed, successfully, on its destination.
    func messagesRelayed(within seconds: Double) async {
        let confirmed = await seen.relayed
        let messages = await seen.messages.filter { !confirmed.contains($0.id) }
        var waiting = messages
        _ = await eventually(seconds) {
            var still: [Observations.Sent] = []
            for m in waiting {
                let relay = try? await net.rpc(m.destination).call(RollupMethod.getRelay, [.string(m.id)])
                if relay == nil || relay == .null { still.append(m) }
            }
            waiting = still
            return waiting.isEmpty
        }
        for m in messages {
            if waiting.contains(where: { $0.id == m.id }) {
                await tally.violate(
                    "message \(m.id) \(m.source) → \(m.destination) not relayed within \(Int(seconds)) s")
                continue
            }
            let relay = try? await net.rpc(m.destination).call(RollupMethod.getRelay, [.string(m.id)])
            await seen.confirmRelay(m.id)
            await tally.check(
                relay?["success"] == .bool(true),
                "message \(m.id) relayed on \(m.destination) without success: \(relay.map { "\($0)" } ?? "-")")
        }
    }

    /// Every address that can hold value in the devnet: the dev accounts, every role key, and the
    /// escrow module (the bridge is counted apart: it holds what went abroad).
    var holders: [Address] {
        (0..<10).map { DevKeys.account($0).address }
            + net.genesis.rollups.flatMap { r in
                [r.sequencer, r.batcher, r.proposer, r.treasury, r.challenger].map { $0.publicKey.address }
            } + [ModuleAccount.escrow]
    }

    /// The balances of `asset` that `who` hold on `rollup`, read in one JSON-RPC batch and returned
    /// only when every answer is at the same height (so no block falls between two reads), with that
    /// height; nil when 20 tries did not give one height.
    func balances(on rollup: String, of asset: String, _ who: [Address]) async -> (height: UInt64, values: [UInt64])? {
        let params: [[JSONValue]] = who.map { [.string($0.hex), .object(["assets": .array([.string(asset)])])] }
        for _ in 0..<20 {
            guard let answers = try? await net.rpc(rollup).batch(RollupMethod.getAccount, params) else { continue }
            let heights = Set(answers.map { $0["height"]?.unsignedValue })
            guard heights.count == 1, let height = heights.first! else { continue }
            return (height, answers.map { $0["balances"]?[asset]?.unsignedValue ?? 0 })
        }
        return nil
    }

    /// At any moment, with messages in flight: a rollup's native asset adds up to its supply on its
    /// home ledger, the bridge included (a send moves value into the bridge, a relay home out of
    /// it; nothing else creates or destroys it), read at one height.
    func nativeConservedAtHome(_ rollup: String) async {
        let home = net.rollup(rollup)
        let asset = home.nativeAsset.rawValue
        guard let read = await balances(on: rollup, of: asset, holders + [ModuleAccount.bridge]) else {
            await tally.violate("could not read \(rollup)'s balances at one height in 20 tries")
            return
        }
        let total = read.values.reduce(0, +)
        await tally.check(
            total == home.supply,
            "\(asset) adds up to \(total) on \(rollup) at height \(read.height), bridge included; supply \(home.supply)"
        )
    }

    /// Every asset adds up to its genesis supply across all rollups: the native balances on its
    /// home (outside the bridge, which holds what went abroad) plus the wrapped balances elsewhere.
    /// Checked once messages have landed (at a checkpoint), each rollup read at one height.
    func valueConserved(among names: [String]) async {
        let rollups = names.map { net.rollup($0) }
        for home in rollups {
            var total: UInt64 = 0
            for r in rollups {
                let asset = r.id == home.id ? home.nativeAsset.rawValue : "\(home.name)/\(home.nativeAsset.rawValue)"
                guard let read = await balances(on: r.name, of: asset, holders) else {
                    await tally.violate("could not read \(r.name)'s \(asset) balances at one height in 20 tries")
                    return
                }
                total += read.values.reduce(0, +)
            }
            await tally.check(
                total == home.supply,
                "\(home.nativeAsset.rawValue) adds up to \(total) across the devnet, supply \(home.supply)")
        }
    }

    /// No process exited on its own.
    func nobodyDied() async {
        for (name, status) in net.unexpectedExits() {
            await tally.violate("\(name) exited by itself with status \(status)")
        }
    }
}
