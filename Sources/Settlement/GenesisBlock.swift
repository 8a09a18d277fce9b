import Config
import Primitives
import StateMachine
import StateTree

// What a genesis file means to the protocol: each rollup's block 0 and the network of rollups its
// messages may name. Pure functions of the file; the chain store, the L1 and the adjudicator all
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
