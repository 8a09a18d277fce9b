import API
import Config
import Devnet
import Foundation
import Primitives
import RPC
import Synchronization

/// What the suite has seen acknowledged: blocks served by sequencers (and so every transaction in
/// them), messages sent, the L1's blocks, blobs and outputs. Checks after each fault compare the
/// devnet against it.
actor Observations {
    struct BlockSeen: Sendable {
        var hash: String
        var stateRoot: String
        var transactions: [String]
    }
    struct Sent: Sendable {
        var id: String
        var source: String
        var destination: String
    }

    var blocks: [String: [UInt64: BlockSeen]] = [:]
    var head: [String: UInt64] = [:]
    /// Transaction id → (rollup, height) of the block the sequencer acknowledged it in.
    var included: [String: (rollup: String, height: UInt64)] = [:]
    var messages: [Sent] = []
    /// Messages whose relay a check has already confirmed.
    var relayed: Set<String> = []
    var l1Hashes: [UInt64: String] = [:]
    var l1Head: UInt64 = 0
    var l1Blobs: [String: UInt64] = [:]
    var l1Outputs: [String: UInt64] = [:]

    func record(_ rollup: String, _ height: UInt64, _ block: BlockSeen) -> String? {
        if let seen = blocks[rollup]?[height] {
            return seen.hash == block.hash ? nil : "\(rollup) block \(height) was \(seen.hash), now \(block.hash)"
        }
        blocks[rollup, default: [:]][height] = block
        head[rollup] = max(head[rollup] ?? 0, height)
        for tx in block.transactions {
            if let earlier = included[tx] {
                return "transaction \(tx) included twice: \(earlier.rollup) \(earlier.height) and \(rollup) \(height)"
            }
            included[tx] = (rollup, height)
        }
        return nil
    }

    func recordMessage(_ m: Sent) { messages.append(m) }
    func confirmRelay(_ id: String) { relayed.insert(id) }

    func recordL1(height: UInt64, hash: String, blobs: [String: UInt64], outputs: [String: UInt64]) {
        l1Hashes[height] = hash
        l1Head = max(l1Head, height)
        for (k, v) in blobs { l1Blobs[k] = max(l1Blobs[k] ?? 0, v) }
        for (k, v) in outputs { l1Outputs[k] = max(l1Outputs[k] ?? 0, v) }
    }

    func block(_ rollup: String, _ height: UInt64) -> BlockSeen? { blocks[rollup]?[height] }
    func transactions(of rollup: String, through height: UInt64) -> Int {
        (blocks[rollup] ?? [:]).reduce(0) { $1.key <= height ? $0 + $1.value.transactions.count : $0 }
    }
    func sampleTransactions(of rollup: String, _ count: Int, _ rng: inout SplitMix64) -> [(String, UInt64)] {
        let all = included.filter { $0.value.rollup == rollup }
        guard !all.isEmpty else { return [] }
        let keys = Array(all.keys)
        return (0..<min(count, keys.count)).map { _ in
            let k = keys[Int(rng.next() % UInt64(keys.count))]
            return (k, all[k]!.height)
        }
    }
}

/// Follows every running sequencer's new blocks (on the one block follower) and the L1, recording
/// what they acknowledge.
final class Watcher: Sendable {
    let net: FaultNet
    let seen: Observations
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(net: FaultNet, seen: Observations) {
        self.net = net
        self.seen = seen
    }

    /// Follows the sequencer's blocks from the first on, through its own port (asked again for every
    /// request: a restarted sequencer is on a new one); while it is down, tries again every 150 ms.
    func watch(_ rollup: String) {
        let follower = BlockFollower(
            from: 1, transactions: .full, interval: .milliseconds(150), retryAfter: .milliseconds(150),
            transport: { [net] in net.rpc(rollup) }
        ) { block in try await self.record(rollup, block) }
        tasks.withLock { $0.append(Task { await follower.run() }) }
    }

    func watchL1() {
        tasks.withLock {
            $0.append(
                Task {
                    while !Task.isCancelled {
                        do { try await self.pollL1() } catch {}
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                })
        }
    }

    func cancel() { tasks.withLock { for t in $0 { t.cancel() } } }

    /// Records a block a sequencer served and the messages its sends emitted (their ids from the
    /// receipts, read first: a block whose receipts cannot be read throws and is handed again,
    /// nothing of it recorded).
    func record(_ rollup: String, _ block: BlockFollower.Block) async throws {
        let rpc = RollupClient(transport: net.rpc(rollup))
        var sent: [Observations.Sent] = []
        for tx in block.transactions {
            guard case .sendMessage(let destination, _, _, _, _) = tx.transaction.call else { continue }
            guard let id = try await rpc.receipt(tx.id)?.message, let dest = net.genesis.rollup(id: destination)
            else { continue }
            sent.append(.init(id: id.hex, source: rollup, destination: dest.name))
        }
        let seenBlock = Observations.BlockSeen(
            hash: block.header.hash.hex, stateRoot: block.header.stateRoot.hex,
            transactions: block.transactionIDs.map(\.hex))
        if let problem = await seen.record(rollup, block.height, seenBlock) {
            await net.tally.violate(problem)
        }
        for m in sent { await seen.recordMessage(m) }
    }

    func pollL1() async throws {
        let status = try await net.l1.status()
        var blobs: [String: UInt64] = [:], outputs: [String: UInt64] = [:]
        for r in status.rollups {
            blobs[r.name] = r.nextSeq
            outputs[r.name] = r.outputCount
        }
        await seen.recordL1(height: status.height, hash: status.hash.hex, blobs: blobs, outputs: outputs)
    }
}

/// Steady load on the one generator: transfers on every loaded rollup and messages around the ring
/// of loaded rollups, from dev accounts, closed loop. Nonces are read from the node before each
/// send, so a sender whose node is down (or that lost its mempool) goes on with the node's nonce;
/// only inclusion counts as acknowledgement.
final class Load: Sendable {
    let net: FaultNet
    private let running = Mutex((generators: [LoadGenerator](), tasks: [Task<Void, Never>](), paused: false))
    private let counts = Mutex((submitted: 0, refused: 0))

    init(net: FaultNet) { self.net = net }

    var submitted: Int { counts.withLock { $0.submitted } }
    var refused: Int { counts.withLock { $0.refused } }

    var isPaused: Bool {
        get { running.withLock { $0.paused } }
        set {
            running.withLock {
                $0.paused = newValue
                for g in $0.generators { g.isPaused = newValue }
            }
        }
    }

    func start(rollups: [String], transferIntervalMs: Int, messageIntervalMs: Int) {
        for (r, name) in rollups.enumerated() {
            let params = net.rollup(name)
            // Through the node's proxy, like any client named by the genesis.
            var rpc = RPCClient(url: params.rpc)
            rpc.timeout = .seconds(10)
            let sender = { (account: Int) in
                LoadGenerator.Sender(rollup: params.id, key: DevKeys.account(account), transport: rpc)
            }
            run(
                LoadGenerator(
                    senders: [sender(0), sender(1)], pacing: .interval(.milliseconds(transferIntervalMs)),
                    nonces: .pending, observer: { [self] in count($0) }
                ) { slot in
                    let seq = UInt64(slot.index)
                    return .transfer(
                        to: DevKeys.account(7 + Int(seq % 3)).address, asset: params.nativeAsset, amount: 1 + seq % 97)
                })
            // Messages: each rollup sends to the next one in the ring, with value.
            guard rollups.count > 1 else { continue }
            let destination = net.rollup(rollups[(r + 1) % rollups.count])
            run(
                LoadGenerator(
                    senders: [sender(4 + r)], pacing: .interval(.milliseconds(messageIntervalMs)), nonces: .pending,
                    observer: { [self] in count($0) }
                ) { slot in
                    .sendMessage(
                        destination: destination.id, target: "bank", recipient: DevKeys.account(8).address,
                        value: [AssetAmount(params.nativeAsset, 10 + UInt64(slot.index) % 50)], payload: [])
                })
        }
    }

    func stop() { running.withLock { for t in $0.tasks { t.cancel() } } }

    private func run(_ generator: LoadGenerator) {
        running.withLock {
            generator.isPaused = $0.paused
            $0.generators.append(generator)
            $0.tasks.append(Task { try? await generator.run() })
        }
    }

    private func count(_ event: LoadGenerator.Event) {
        switch event {
        case .willSubmit: break
        case .accepted: counts.withLock { $0.submitted += 1 }
        case .refused: counts.withLock { $0.refused += 1 }
        }
    }
}
