import API
import Chain
import Foundation
import L1
import L1Chain
import Logging
import Node
import Primitives
import RPC
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
        let dir = try TemporaryDirectory("node-derive")
        let (genesis, alpha, l1) = try devnet(dir)
        let sequencer = try store(dir, "alpha", alpha, genesis)
        let batcher = Batcher(store: sequencer, l1: l1.client, key: key(alpha.batcher, genesis), logger: logger)
        try produce(sequencer, count: 7)
        #expect(try await batcher.step(force: true))
        try produce(sequencer, count: 5)
        #expect(try await batcher.step(force: true))
        #expect(try batcher.postedHeight() == 12)
        #expect(try await l1.client.status().rollups[alpha.id.rawValue]?.daHeight == 12)

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
        let dir = try TemporaryDirectory("node-diverge")
        let (genesis, alpha, l1) = try devnet(dir)
        let sequencer = try store(dir, "alpha", alpha, genesis)
        let batcher = Batcher(store: sequencer, l1: l1.client, key: key(alpha.batcher, genesis), logger: logger)
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

    @Test func theProposerProposesAnOutputOfThePostedChain() async throws {
        let dir = try TemporaryDirectory("node-propose")
        let (genesis, alpha, l1) = try devnet(dir)
        let sequencer = try store(dir, "alpha", alpha, genesis)
        let batcher = Batcher(store: sequencer, l1: l1.client, key: key(alpha.batcher, genesis), logger: logger)
        try produce(sequencer, count: Int(alpha.outputIntervalBlocks))
        #expect(try await batcher.step(force: true))
        let proposer = Proposer(
            store: sequencer, l1: l1.client, key: key(alpha.proposer, genesis), interval: .milliseconds(50),
            fallbackOnly: false, logger: logger)
        let proposed = try await proposer.step()
        #expect(proposed == alpha.outputIntervalBlocks)
        let outputs = try await l1.client.outputs(rollup: alpha.id)
        let head = try sequencer.head()
        #expect(outputs.count == 1)
        #expect(outputs.first?.output.l2Height == head.height)
        #expect(outputs.first?.output.stateRoot == head.stateRoot)
        #expect(outputs.first?.status == "pending")
    }
}
