import API
import Chain
import Config
import Foundation
import Logging
import Metrics
import Primitives
import RPC
import Rollup
import ServiceLifecycle
import StateMachine
import Storage
import Synchronization

/// A peer's node answered with messages that do not verify against the L1: never asked twice.
struct PeerLied: Error, CustomStringConvertible {
    let peer: String
    var description: String { "\(peer)'s node sent messages that do not verify" }
}

/// Relays the messages peers send to this rollup (DESIGN §7). For each peer it takes the newest
/// output final as of the L1 block the sequencer builds on, asks the peer's node for the messages
/// addressed here with proofs against that output, checks them, and submits `relayMessage`
/// transactions to the local mempool, signed by the rollup's treasury key. When the peer's node is
/// down or its answer does not verify, it rebuilds the peer's outbox from the peer's blobs on the
/// L1 (a follower store of the peer under `<datadir>/peers/<name>`).
public final class Relayer: Service, Sendable {
    let store: ChainStore
    let mempool: Mempool
    let genesis: Genesis
    let watcher: L1Watcher
    let l1: L1Client
    let key: SigningKey
    let datadir: String
    /// How the peers' stores under `<datadir>/peers` are opened (the node's own cap applies to each).
    let storage: Environment.Options
    let interval: Duration
    let logger: Logger
    struct State {
        var cursor: [RollupID: UInt64] = [:]
        /// Consecutive failed asks per peer: its outbox is rebuilt from DA after three.
        var failures: [RollupID: Int] = [:]
        var inFlight: [Hash: ContinuousClock.Instant] = [:]
        var shadows: [RollupID: Deriver] = [:]
    }
    let state = Mutex(State())
    /// One submission at a time: each takes the relay key's next nonce.
    let submitting = Mutex(())
    let submitted = Counter(label: "tributary_relays_submitted_total")
    let fromDA = Counter(label: "tributary_relays_from_da_total")

    public init(
        store: ChainStore, mempool: Mempool, genesis: Genesis, watcher: L1Watcher, l1: L1Client, key: SigningKey,
        datadir: String, storage: Environment.Options = Environment.Options(), interval: Duration, logger: Logger
    ) {
        self.storage = storage
        self.store = store
        self.mempool = mempool
        self.genesis = genesis
        self.watcher = watcher
        self.l1 = l1
        self.key = key
        self.datadir = datadir
        self.interval = interval
        self.logger = logger
    }

    /// Relays every `interval` until shutdown (`ServiceLoop`). Throws only fatal storage errors (of
    /// this node's store or a peer's).
    public func run() async throws {
        try await ServiceLoop(name: "relaying", pace: .every(interval), logger: logger).run {
            try await self.relayAll()
            return true
        }
    }

    /// One round over every peer, side by side: one slow peer (or a rebuild from DA) never holds up
    /// the others; a peer that fails is logged and tried again next round.
    func relayAll() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for peer in genesis.rollups where peer.id != store.rollup.id {
                group.addTask {
                    do { try await self.step(peer) } catch {
                        if let fatal = StorageError.fatal(error) { throw fatal }
                        self.logger.debug("relaying failed", metadata: ["peer": "\(peer.name)", "error": "\(error)"])
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The newest output of `peer` final as of the L1 block the sequencer builds on.
    func finalOutput(of peer: RollupID) -> (index: UInt64, fact: L1OutputFact)? {
        let asOf = watcher.origin.height
        return watcher.outputs(of: peer).last { $0.fact.isFinalized(asOf: asOf) }
    }

    /// Relays what `peer` sent here up to its newest final output.
    func step(_ peer: RollupParameters) async throws {
        guard let final = finalOutput(of: peer.id) else { return }
        let me = store.rollup.id
        let from = state.withLock { $0.cursor[peer.id] ?? 0 }
        var messages: [(Message, OutboxProof)]
        do {
            messages = try await fromPeer(peer, from: from, through: final.fact.l2Height)
            guard messages.allSatisfy({ Self.verifies($0.0, $0.1, final.fact, source: peer.id, destination: me) })
            else {
                throw PeerLied(peer: peer.name)
            }
            state.withLock { $0.failures[peer.id] = 0 }
        } catch {
            let failures = state.withLock { s -> Int in
                s.failures[peer.id, default: 0] += 1
                return s.failures[peer.id]!
            }
            // A lie is not retried; an unreachable peer gets three tries before the rebuild.
            if failures < 3, !(error is PeerLied) { throw error }
            logger.debug(
                "peer node unusable; rebuilding its outbox from DA",
                metadata: ["peer": "\(peer.name)", "error": "\(error)"])
            guard let rebuilt = try await fromDA(peer, from: from, through: final.fact.l2Height) else { return }
            messages = rebuilt.filter { Self.verifies($0.0, $0.1, final.fact, source: peer.id, destination: me) }
            if !messages.isEmpty { fromDA.increment(by: messages.count) }
        }
        let now = ContinuousClock.now
        // The cursor moves past every message to here that is relayed, up to the first that is not
        // (messages to other rollups in between are skipped by the query).
        var advanced = from
        var blocked = false
        for (message, proof) in messages {
            if try store.relayRecord(message.id) != nil {
                if !blocked { advanced = message.nonce + 1 }
                continue
            }
            blocked = true
            let busy = state.withLock { s -> Bool in
                if let t = s.inFlight[message.id], now - t < .seconds(10) { return true }
                s.inFlight[message.id] = now
                return false
            }
            if busy { continue }
            do { try submitting.withLock { _ in try submit(message, proof, outputIndex: final.index) } } catch {
                // Not in the mempool: try again next round.
                _ = state.withLock { $0.inFlight.removeValue(forKey: message.id) }
                throw error
            }
        }
        state.withLock { $0.cursor[peer.id] = advanced }
    }

    static func verifies(_ m: Message, _ p: OutboxProof, _ fact: L1OutputFact, source: RollupID, destination: RollupID)
        -> Bool
    {
        m.source == source && m.destination == destination && p.index == m.nonce && p.root(for: m.id) == fact.outboxRoot
    }

    func fromPeer(_ peer: RollupParameters, from: UInt64, through: UInt64) async throws -> [(Message, OutboxProof)] {
        try await RollupClient(url: peer.rpc, timeout: .seconds(5)).messages(
            to: store.rollup.id, from: from, through: through)
    }

    /// The peer's messages from a store of its chain derived from the L1 (nil: not there yet).
    func fromDA(_ peer: RollupParameters, from: UInt64, through: UInt64) async throws -> [(Message, OutboxProof)]? {
        let deriver = try state.withLock { s -> Deriver in
            if let d = s.shadows[peer.id] { return d }
            let path = datadir + "/peers/" + peer.name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let shadow = try ChainStore(datadir: path, rollup: peer, network: store.network, options: storage)
            let d = Deriver(store: shadow, l1: l1, logger: logger)
            s.shadows[peer.id] = d
            return d
        }
        try await deriver.catchUp()
        guard try deriver.store.head().height >= through else { return nil }
        return try deriver.store.messages(to: store.rollup.id, fromNonce: from, throughHeight: through, limit: 200)
            .messages.map { ($0.0.message, $0.1) }
    }

    func submit(_ message: Message, _ proof: OutboxProof, outputIndex: UInt64) throws {
        let address = key.address
        // Pending first, committed second: a block committed in between only raises the latter.
        let pending = mempool.pendingNonce(of: address) ?? 0
        let store = self.store
        let read = {
            try store.withState { view in
                (
                    nonce: try view.accounts.nonce(of: address),
                    nativeBalance: try view.accounts.balance(of: address, store.rollup.nativeAsset)
                )
            }
        }
        let nonce = max(pending, try read().nonce)
        // The treasury pays the mempool's price for the relay's size, like any sender.
        let tx = Transaction(
            rollup: store.rollup.id, nonce: nonce, sender: key.publicKey, fee: 0,
            call: .relayMessage(message: message, proof: proof, outputIndex: outputIndex)
        ).payingMinimumFee(perByte: mempool.limits.minFeePerByte).signed(by: key)
        try mempool.add(tx, encodedSize: tx.canonicalBytes.count, account: read)
        submitted.increment()
        logger.debug(
            "relay submitted",
            metadata: ["message.id": "\(message.id)", "message.source": "\(message.source)", "tx.id": "\(tx.id)"])
    }
}
