import API
import Chain
import Foundation
import L1
import L1Chain
import Logging
import Node
import Primitives
import RPC
import Rollup
import Settlement
import StateMachine
import Testing
import TributaryTesting

/// A real L1 in process: its store in a temporary directory, its producer sealing a block every
/// 20 ms, its `l1_*` methods served by a dispatcher the services call without sockets.
final class InProcessL1: @unchecked Sendable {
    let store: L1Store
    let producer: L1Producer
    let client: L1Client
    let running: Task<Void, Error>

    init(datadir: String, genesis: Genesis) throws {
        store = try L1Store(datadir: datadir, genesis: genesis)
        producer = L1Producer(store: store, blockTime: .milliseconds(20), logger: Logger(label: "test.l1"))
        var dispatcher = RPCDispatcher()
        L1RPC(store: store, producer: producer).register(into: &dispatcher)
        client = L1Client(transport: dispatcher)
        let producer = self.producer
        running = Task { try await producer.run() }
    }

    deinit { running.cancel() }
}

/// The rollup node's services (`Node`) against an in-process L1: batches posted, derived by a
/// follower, outputs proposed, a divergent store halted.
@Suite struct NodeTests {
    let logger = Logger(label: "test.node")

    func devnet(_ dir: TemporaryDirectory) throws -> (Genesis, RollupParameters, InProcessL1) {
        var builder = GenesisBuilder.small(rollups: 2)
        builder.l1.fraudWindowBlocks = 1000
        let genesis = try builder.parsed()
        return (genesis, genesis.rollups[0], try InProcessL1(datadir: dir.appending("l1"), genesis: genesis))
    }

    func store(_ dir: TemporaryDirectory, _ name: String, _ rollup: RollupParameters, _ genesis: Genesis) throws
        -> ChainStore
    {
        try ChainStore(datadir: dir.appending(name), rollup: rollup, network: Network(genesis))
    }

    func key(_ role: RoleKey, _ genesis: Genesis) -> SigningKey { DevKeys.key(named: role.name, seed: genesis.devSeed) }

    /// A devnet whose alpha sequencer store has its batcher beside it.
    func sequencing(_ prefix: String) throws -> (
        dir: TemporaryDirectory, genesis: Genesis, alpha: RollupParameters, l1: InProcessL1, store: ChainStore,
        batcher: Batcher
    ) {
        let dir = try TemporaryDirectory(prefix)
        let (genesis, alpha, l1) = try devnet(dir)
        let sequencer = try store(dir, "alpha", alpha, genesis)
        let batcher = Batcher(store: sequencer, l1: l1.client, key: key(alpha.batcher, genesis), logger: logger)
        return (dir, genesis, alpha, l1, sequencer, batcher)
    }

    /// `count` blocks of one transfer each on `store`.
    func produce(_ store: ChainStore, count: Int, from: Int = 0) throws {
        let sender = DevKeys.account(from)
        for _ in 0..<count {
            let nonce = try store.withState { try $0.accounts.nonce(of: sender.address) }
            let tx = Transaction(
                rollup: store.rollup.id, nonce: nonce, sender: sender.publicKey, fee: 5_000,
                call: .transfer(to: DevKeys.account(1).address, asset: store.rollup.nativeAsset, amount: 1)
            ).signed(by: sender)
            let committed = try store.commitBlock(candidates: [tx], timestamp: try store.head().timestamp + 1)
            #expect(committed.dropped.isEmpty)
        }
    }

    @Test func postedBatchesDeriveToTheSequencersChain() async throws {
        let (dir, genesis, alpha, l1, sequencer, batcher) = try sequencing("node-derive")
        try produce(sequencer, count: 7)
        #expect(try await batcher.step(force: true))
        try produce(sequencer, count: 5)
        #expect(try await batcher.step(force: true))
        #expect(try batcher.postedHeight() == 12)
        #expect(try await l1.client.status().rollup(alpha.id)?.daHeight == 12)

        let follower = try store(dir, "follower", alpha, genesis)
        let deriver = Deriver(store: follower, l1: l1.client, logger: logger)
        try await deriver.catchUp()
        #expect(deriver.haltReason == nil)
        #expect(try follower.head() == sequencer.head())
        #expect(try deriver.nextSeq() == 2)
        #expect(try deriver.firstFault() == nil)
        #expect(try follower.verify() == 12)
    }

    @Test func aStoreOfAnotherChainHaltsDerivationWithTheDivergence() async throws {
        let (dir, genesis, alpha, l1, sequencer, batcher) = try sequencing("node-diverge")
        try produce(sequencer, count: 4)
        #expect(try await batcher.step(force: true))

        // Another chain of the same rollup: the same heights, other transactions.
        let other = try store(dir, "other", alpha, genesis)
        try produce(other, count: 4, from: 2)
        let deriver = Deriver(store: other, l1: l1.client, logger: logger)
        #expect(try await deriver.step() == 0)
        let divergence = try #require(deriver.divergence)
        #expect(divergence.hasPrefix("the store diverges from the L1 at block 1"), "\(divergence)")
        #expect(deriver.haltHeight == 1)
        #expect(try other.head().height == 4)
    }

    @Test func theProposerProposesOutputsOfThePostedChainFromTheWatchersView() async throws {
        let (dir, genesis, alpha, l1, sequencer, batcher) = try sequencing("node-propose")
        try produce(sequencer, count: Int(alpha.outputIntervalBlocks))
        #expect(try await batcher.step(force: true))
        let watcher = L1Watcher(l1: l1.client, own: alpha.id, peers: [genesis.rollups[1].id])
        let proposer = Proposer(
            store: sequencer, l1: l1.client, watcher: watcher, key: key(alpha.proposer, genesis), fallbackOnly: false,
            logger: logger)
        // Nothing is proposed before the watcher has seen the L1.
        #expect(try await proposer.step() == nil)
        #expect(await watcher.poll() != nil)
        let proposed = try await proposer.step()
        #expect(proposed == alpha.outputIntervalBlocks)
        // The next waits until the watcher has seen this one.
        try produce(sequencer, count: Int(alpha.outputIntervalBlocks))
        #expect(try await batcher.step(force: true))
        #expect(try await proposer.step() == nil)
        #expect(await watcher.poll() != nil)
        #expect(watcher.outputs(ofWatched: alpha.id)?.outputs.count == 1)
        #expect(try await proposer.step() == 2 * alpha.outputIntervalBlocks)
        let outputs = try await l1.client.outputs(rollup: alpha.id)
        let head = try sequencer.head()
        #expect(outputs.count == 2)
        #expect(outputs.last?.output.l2Height == head.height)
        #expect(outputs.last?.output.stateRoot == head.stateRoot)
        #expect(outputs.last?.status == .pending)
    }

    /// A replaced liar's false output is still pending when the honest sequencer takes over: a
    /// proposal above it would fall with it (a won challenge invalidates every later output), so the
    /// honest proposer waits for its invalidation, then proposes on the standing output below.
    /// (The fault suite's adversary round 3 lost an honest output that way.)
    @Test func theSequencerDoesNotProposeAboveAFalsePendingOutput() async throws {
        let (_, genesis, alpha, l1, sequencer, batcher) = try sequencing("node-false-top")
        let n = alpha.outputIntervalBlocks
        try produce(sequencer, count: Int(n))
        #expect(try await batcher.step(force: true))
        // The liar held the proposer key: an output naming the posted block with another state root.
        let posted = try #require(try sequencer.header(at: n))
        var lie = Output(header: posted)
        lie.stateRoot = Lies.falseHash("output-state", lie.stateRoot)
        let proposerKey = key(alpha.proposer, genesis)
        let false0 = try await l1.client.proposeOutput(OutputProposal(output: lie, parent: .zero, signedBy: proposerKey))
        try produce(sequencer, count: Int(n))
        #expect(try await batcher.step(force: true))

        let watcher = L1Watcher(l1: l1.client, own: alpha.id, peers: [genesis.rollups[1].id])
        let proposer = Proposer(
            store: sequencer, l1: l1.client, watcher: watcher, key: proposerKey, fallbackOnly: false, logger: logger)
        #expect(await watcher.poll() != nil)
        #expect(try await proposer.step() == nil)
        #expect(try await l1.client.outputs(rollup: alpha.id).count == 1)

        // A follower's challenger wins against it; the proposer then proposes from the standing floor.
        let challenge = Challenge(
            rollup: alpha.id, outputIndex: false0.index, proof: .output, signedBy: key(alpha.challenger, genesis))
        _ = try await l1.client.challenge(challenge)
        #expect(try await l1.client.outputs(rollup: alpha.id).first?.status == .invalidated)
        #expect(await watcher.poll() != nil)
        #expect(try await proposer.step() == n)
        let outputs = try await l1.client.outputs(rollup: alpha.id)
        #expect(outputs.map(\.status) == [.invalidated, .pending])
        #expect(outputs.last?.output.matches(posted) == true)
    }

    /// A liar races the honest proposer: its false output lands between the watcher's poll and the
    /// honest proposal. The honest proposal names the parent it saw, so the L1 refuses it (nothing
    /// taken, nothing to fall with the lie); after the next poll the honest proposer waits for the
    /// lie's invalidation instead of building on it.
    @Test func aProposalBuiltOnAViewALiarRacedIsRefusedNotBuriedWithTheLie() async throws {
        let (_, genesis, alpha, l1, sequencer, batcher) = try sequencing("node-race")
        let n = alpha.outputIntervalBlocks
        try produce(sequencer, count: Int(n))
        #expect(try await batcher.step(force: true))
        let proposerKey = key(alpha.proposer, genesis)
        let watcher = L1Watcher(l1: l1.client, own: alpha.id, peers: [genesis.rollups[1].id])
        let proposer = Proposer(
            store: sequencer, l1: l1.client, watcher: watcher, key: proposerKey, fallbackOnly: false, logger: logger)
        #expect(await watcher.poll() != nil)
        // The lie lands first, on the same (empty) parent.
        var lie = Output(header: try #require(try sequencer.header(at: n)))
        lie.stateRoot = Lies.falseHash("output-state", lie.stateRoot)
        _ = try await l1.client.proposeOutput(OutputProposal(output: lie, parent: .zero, signedBy: proposerKey))
        let refusal: RPCError? = await {
            do {
                _ = try await proposer.step()
                return nil
            } catch { return error as? RPCError }
        }()
        #expect(refusal?.code == L1ErrorCode.staleParent, "\(String(describing: refusal))")
        #expect(try await l1.client.outputs(rollup: alpha.id).map(\.output) == [lie])
        #expect(await watcher.poll() != nil)
        #expect(try await proposer.step() == nil)
        #expect(try await l1.client.outputs(rollup: alpha.id).count == 1)
    }

    /// A node's answers are read back checked: a form that contradicts itself — a header whose hash
    /// is not its fields', a block whose transactions do not give its root, a transaction or message
    /// under another id, an `encoded` that says otherwise, `success` against `status` — is refused
    /// with the value and the field named, never taken as what it claims.
    @Test func theRollupClientRefusesFormsThatContradictThemselves() async throws {
        let dir = try TemporaryDirectory("node-forms")
        let (genesis, alpha, _) = try devnet(dir)
        let chain = try store(dir, "alpha", alpha, genesis)
        let mempool = Mempool(rollup: alpha.id)
        let server = RollupRPC(store: chain, mempool: mempool)
        let sender = DevKeys.account(0), recipient = DevKeys.account(1).address
        var dispatcher = RPCDispatcher()
        server.register(into: &dispatcher)
        let client = RollupClient(transport: dispatcher)
        let send = try await client.submit(
            .sendMessage(
                destination: genesis.rollups[1].id, target: "bank", recipient: recipient,
                value: [AssetAmount(alpha.nativeAsset, 5)], payload: [7]), key: sender)
        mempool.blockCommitted(try chain.commitBlock(candidates: mempool.candidates(limit: 10), timestamp: 1))
        let block = try #require(try server.block(.height(1), full: true))
        let receipt = try #require(try server.receipt(send.id))
        let messageID = try #require(receipt.message)
        let sent = try #require(try server.message(messageID))

        func damaged(_ value: JSONValue, _ path: [String], _ replacement: JSONValue) -> JSONValue {
            guard case .object(var o) = value, let key = path.first else { return replacement }
            o[key] = damaged(o[key] ?? .null, Array(path.dropFirst()), replacement)
            return .object(o)
        }
        func refusal(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "accepted"
            } catch { return "\(error)" }
        }
        let otherRoot = JSONValue.string(Hash.sha256([1]).hex)
        #expect(try RollupBlock(json: block.json) == block)
        #expect(refusal { _ = try RollupBlock(json: damaged(block.json, ["stateRoot"], otherRoot)) }.contains("its hash is not its fields'"))
        guard case .object(var form) = block.json else { return }
        form["transactions"] = .array([])
        #expect(refusal { _ = try RollupBlock(json: .object(form)) }.contains("transactions root"))
        guard case .array(let txs)? = block.json["transactions"], let tx = txs.first else { return }
        #expect(refusal { _ = try JSONForm.transaction(damaged(tx, ["fee"], .number(UInt64(1)))) }.contains("transaction: field id"))
        #expect(refusal { _ = try JSONForm.transaction(damaged(tx, ["call", "type"], .string("mint"))) }.contains("field type"))
        #expect(refusal { _ = try TransactionReceipt(json: damaged(receipt.json, ["success"], .bool(false))) }.contains("field success"))
        #expect(refusal { _ = try SentMessage(json: damaged(sent.json, ["nonce"], .number(UInt64(9)))) }.contains("message: field id"))
        #expect(refusal { _ = try SentMessage(json: damaged(sent.json, ["encoded"], .string("0x00"))) }.contains("field encoded"))
        #expect(refusal { _ = try RollupNodeStatus(json: damaged(try server.status().json, ["mode"], .string("oracle"))) }.contains("field mode"))
    }

    /// The method enums are the API: the servers register exactly their cases, and docs/rpc.md
    /// documents every one.
    @Test func theServersRegisterExactlyTheAPIsMethodsAndTheDocsListThem() throws {
        let dir = try TemporaryDirectory("node-api")
        let (genesis, alpha, l1) = try devnet(dir)
        var l1Dispatcher = RPCDispatcher()
        L1RPC(store: l1.store, producer: l1.producer).register(into: &l1Dispatcher)
        #expect(Set(l1Dispatcher.methods.keys) == Set(L1Method.allCases.map(\.rawValue)))
        var rollupDispatcher = RPCDispatcher()
        RollupRPC(store: try store(dir, "alpha", alpha, genesis), mempool: Mempool(rollup: alpha.id))
            .register(into: &rollupDispatcher)
        #expect(Set(rollupDispatcher.methods.keys) == Set(RollupMethod.allCases.map(\.rawValue)))
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/rpc.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for method in L1Method.allCases.map(\.rawValue) + RollupMethod.allCases.map(\.rawValue) {
            #expect(
                text.contains("| `\(method)` |") || text.contains("### `\(method)("),
                "docs/rpc.md documents no \(method)")
        }
    }

    /// The watcher publishes an update after each poll to every subscriber, and covers the node's
    /// own rollup beside its peers.
    @Test func theWatcherPublishesEachPollToItsSubscribers() async throws {
        let dir = try TemporaryDirectory("node-watch")
        let (genesis, alpha, l1) = try devnet(dir)
        let watcher = L1Watcher(l1: l1.client, own: alpha.id, peers: [genesis.rollups[1].id])
        var first = watcher.updates().makeAsyncIterator()
        var second = watcher.updates().makeAsyncIterator()
        #expect(watcher.outputs(ofWatched: alpha.id) == nil)
        #expect(await watcher.poll() != nil)
        #expect(await first.next() != nil)
        #expect(await second.next() != nil)
        #expect(watcher.outputs(ofWatched: alpha.id)?.outputs.isEmpty == true)
        #expect(watcher.origin.height >= 1 || watcher.lastStatus?.height == 0)
    }

    /// The typed rollup client against the node's own methods in process: a submitted transfer pays
    /// the node's price, takes the pending nonce, and lands once a block includes it.
    @Test func theRollupClientSubmitsAtThePendingNonceAndReadsTheReceipt() async throws {
        let dir = try TemporaryDirectory("node-client")
        let (genesis, alpha, _) = try devnet(dir)
        let chain = try store(dir, "alpha", alpha, genesis)
        let mempool = Mempool(rollup: alpha.id)
        var dispatcher = RPCDispatcher()
        RollupRPC(store: chain, mempool: mempool).register(into: &dispatcher)
        let client = RollupClient(transport: dispatcher)
        let sender = DevKeys.account(0)
        let call = Call.transfer(to: DevKeys.account(1).address, asset: alpha.nativeAsset, amount: 9)
        let first = try await client.submit(call, key: sender)
        let second = try await client.submit(call, key: sender)
        #expect(first.nonce == 0 && second.nonce == 1)
        #expect(try await client.pendingNonce(of: sender.address) == 2)
        #expect(try await client.receipt(first.id) == nil)
        let committed = try chain.commitBlock(candidates: mempool.candidates(limit: 10), timestamp: 1)
        mempool.blockCommitted(committed)
        #expect(committed.block.transactions.map(\.id) == [first.id, second.id])
        #expect(try await client.blockNumber() == 1)
        #expect(try await client.receipt(second.id)?.status == .success)
        // Paid the node's price for its size, no more.
        let fee = committed.block.transactions[0].transaction.fee
        #expect(fee == UInt64(committed.block.transactions[0].transaction.signedEncodedSize))
    }

    /// The server (`RollupRPC`, called directly) and the typed client (over the server's dispatcher,
    /// through the JSON forms) answer every `RollupAPI` method alike, on a chain holding a transfer
    /// and a message, with a transaction still pending.
    @Test func theRollupClientReadsEveryMethodBackAsTheServerAnswersIt() async throws {
        let dir = try TemporaryDirectory("node-api")
        let (genesis, alpha, _) = try devnet(dir)
        let chain = try store(dir, "alpha", alpha, genesis)
        let mempool = Mempool(rollup: alpha.id)
        let server = RollupRPC(store: chain, mempool: mempool)
        var dispatcher = RPCDispatcher()
        server.register(into: &dispatcher)
        let client = RollupClient(transport: dispatcher)
        let sender = DevKeys.account(0), recipient = DevKeys.account(1).address
        let transfer = try await client.submit(
            .transfer(to: recipient, asset: alpha.nativeAsset, amount: 9), key: sender)
        let send = try await client.submit(
            .sendMessage(
                destination: genesis.rollups[1].id, target: "bank", recipient: recipient,
                value: [AssetAmount(alpha.nativeAsset, 5)], payload: [1, 2, 3]), key: sender)
        let committed = try chain.commitBlock(candidates: mempool.candidates(limit: 10), timestamp: 1)
        mempool.blockCommitted(committed)
        let pending = try await client.submit(
            .transfer(to: recipient, asset: alpha.nativeAsset, amount: 1), key: sender)
        let messageID = try #require(try await client.receipt(send.id)?.message)

        #expect(try await client.blockNumber() == server.blockNumber())
        #expect(try await client.status() == server.status())
        for id in [transfer.id, send.id, pending.id, Hash.sha256([9])] {
            #expect(try await client.transaction(id) == server.transaction(id))
            #expect(try await client.receipt(id) == server.receipt(id))
        }
        #expect(try await client.transaction(pending.id) == .pending(pending.id))
        let head = try chain.head()
        for selector: BlockSelector? in [nil, .latest, .height(1), .height(0), .height(7), .hash(head.hash)] {
            for full in [false, true] {
                #expect(try await client.block(selector, full: full) == server.block(selector, full: full))
            }
        }
        #expect(try await client.block(.height(1), full: true)?.transactions == .full(committed.block.transactions))
        let assets = [alpha.nativeAsset, AssetName(rawValue: "NONE")!]
        #expect(
            try await client.account(sender.address, assets: assets, proof: true)
                == server.account(sender.address, assets: assets, proof: true))
        #expect(try await client.account(recipient, assets: nil, proof: false) == server.account(recipient, assets: nil, proof: false))
        #expect(try await client.nonce(of: sender.address) == AccountNonces(nonce: 2, pending: 3))
        #expect(try await client.message(messageID) == server.message(messageID))
        #expect(try await client.message(messageID)?.message.payload == [1, 2, 3])
        let page = try await client.messages(to: genesis.rollups[1].id, fromNonce: 0, through: nil, limit: nil)
        #expect(page == (try server.messages(to: genesis.rollups[1].id, fromNonce: 0, through: nil, limit: nil)))
        #expect(page?.messages.count == 1)
        #expect(try await client.messageProof(messageID, through: 1) == server.messageProof(messageID, through: 1))
        #expect(try await client.messageStatus(messageID) == server.messageStatus(messageID))
        #expect(try await client.messageStatus(messageID)?.stage == .sent)
        #expect(try await client.relay(messageID) == nil)
        #expect(try await client.mailbox(recipient: recipient, source: genesis.rollups[1].id, sender: recipient) == nil)
        #expect(try await client.escrow(messageID) == nil)
    }
}
