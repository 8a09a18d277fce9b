import Config
import Primitives
import StateMachine
import StateTree

// What a genesis file means to the protocol: each rollup's block 0, the network of rollups its
// messages may name, and the rules its blocks execute under. Pure functions of the file; the chain store, the L1 and the adjudicator all
// take them from here.

extension RollupParameters {
    /// The genesis block of this rollup and its state (tree version 0). Deterministic: no clock.
    public func genesisBlock() throws -> (block: Block, state: TreeUpdateBatch) {
        let writes = genesisBalances.map {
            (key: StateKey.balance($0.address, nativeAsset), value: Optional($0.amount.canonicalBytes))
        }
        let state = try StateTree(MemoryTreeStore()).update(base: nil, version: 0, updates: writes)
        let header = BlockHeader(
            rollup: id, height: 0, parent: .zero, l1Origin: .none, timestamp: 0,
            transactionsRoot: MerkleList.root([]),
            stateRoot: state.rootHash, outboxRoot: .zero, receiptsRoot: MerkleList.root([]))
        return (Block(header: header, transactions: []), state)
    }
}

extension Network {
    /// Every rollup of `genesis`.
    public init(_ genesis: Genesis) {
        self.init(genesis.rollups.map { Member(id: $0.id, name: $0.name, nativeAsset: $0.nativeAsset) })
    }
}

extension ChainRules {
    /// What `rollup`'s blocks execute under in `network` (docs/protocol.md, "The block rule"): the
    /// same for the sequencer, derivation, every verifier and the adjudicator.
    public init(_ rollup: RollupParameters, network: Network) {
        self.init(
            rollup: rollup.id, sequencer: rollup.sequencer.publicKey.address, nativeAsset: rollup.nativeAsset,
            network: network, bytes: BlockBytes(block: Int(rollup.maxBlockBytes)))
    }
}
