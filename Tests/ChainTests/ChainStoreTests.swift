import Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import Storage
import Testing
import TributaryTesting

let genesisPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Genesis/devnet.json").path

/// The network of the devnet genesis every store here is opened with.
func devnet() throws -> Network { Network(try Genesis.load(path: genesisPath)) }

func alphaParameters() throws -> RollupParameters {
    try #require(try Genesis.load(path: genesisPath).rollup(named: "alpha"))
}

func transfer(_ from: SigningKey, nonce: UInt64, to: Address, amount: UInt64, fee: UInt64 = 1, asset: String = "ALPHA")
    -> SignedTransaction
{
    Transaction(
        rollup: RollupID(1), nonce: nonce, sender: from.publicKey, fee: fee,
        call: .transfer(to: to, asset: AssetName(rawValue: asset)!, amount: amount)
    ).signed(by: from)
}

@Suite struct ChainStoreTests {
    let dev0 = DevKeys.account(0), dev1 = DevKeys.account(1)

    @Test func aNewStoreStartsAtTheGenesisBlockWithTheGenesisBalances() throws {
        let dir = try TemporaryDirectory("chain")
        let alpha = try alphaParameters()
        let store = try ChainStore(datadir: dir.path, rollup: alpha, network: try devnet())
        let head = try store.head()
        #expect(head.height == 0)
        #expect(head.parent == .zero)
        try store.withState { (view: StateView) throws in
            #expect(view.height == 0)
            #expect(try view.accounts.balance(of: dev0.address, alpha.nativeAsset) == alpha.devAccountBalance)
            #expect(try view.accounts.nonce(of: dev0.address) == 0)
            let (value, proof) = try view.proof(of: StateKey.balance(dev0.address, alpha.nativeAsset))
            #expect(
                proof.verify(
                    key: StateKey.balance(dev0.address, alpha.nativeAsset), value: value, root: view.header.stateRoot))
        }
        #expect(try store.verify() == 0)
    }

    @Test func aStoreOfAnotherGenesisIsRefused() throws {
        let dir = try TemporaryDirectory("chain")
        var alpha = try alphaParameters()
        _ = try ChainStore(datadir: dir.path, rollup: alpha, network: try devnet())
        alpha.supply += 1
        #expect(throws: ChainError.self) { _ = try ChainStore(datadir: dir.path, rollup: alpha, network: try devnet()) }
    }

    @Test func blocksCommitValidTransactionsAndDropInvalidOnes() throws {
        let dir = try TemporaryDirectory("chain")
        let store = try ChainStore(datadir: dir.path, rollup: try alphaParameters(), network: try devnet())
        let good = transfer(dev0, nonce: 0, to: dev1.address, amount: 500)
        let gap = transfer(dev0, nonce: 5, to: dev1.address, amount: 1)
        let failing = transfer(dev1, nonce: 0, to: dev0.address, amount: UInt64.max)
        let committed = try store.commitBlock(candidates: [good, gap, failing], timestamp: 1_700_000_000_000)
        #expect(committed.block.transactions == [good, failing])
        #expect(committed.receipts.map(\.status) == [.success, .insufficientBalance])
        #expect(committed.dropped.map(\.reason) == [.wrongNonce(expected: 1, actual: 5)])
        #expect(try store.head() == committed.block.header)
        #expect(try store.location(ofTransaction: failing.id) == TransactionLocation(height: 1, index: 1))
        #expect(try store.location(ofTransaction: gap.id) == nil)
        #expect(try store.block(at: 1) == committed.block)
        #expect(try store.height(ofBlock: committed.block.header.hash) == 1)
        let next = try store.commitBlock(candidates: [], timestamp: 1_700_000_000_500)
        #expect(next.block.header.parent == committed.block.header.hash)
        #expect(try store.verify() == 2)
    }

    @Test func theChainSurvivesReopeningAndVerifies() throws {
        let dir = try TemporaryDirectory("chain")
        let alpha = try alphaParameters()
        var rng = SplitMix64(seed: 3)
        let keys = (0..<5).map { DevKeys.account($0) }
        var nonces = [UInt64](repeating: 0, count: keys.count)
        var lastRoot = Hash.zero
        do {
            let store = try ChainStore(datadir: dir.path, rollup: alpha, network: try devnet())
            for height in 1...20 {
                var candidates: [SignedTransaction] = []
                for _ in 0..<25 {
                    let i = Int(rng.next() % 5), j = Int(rng.next() % 5)
                    candidates.append(
                        transfer(keys[i], nonce: nonces[i], to: keys[j].address, amount: rng.next() % 1_000))
                    nonces[i] += 1
                }
                let committed = try store.commitBlock(candidates: candidates, timestamp: UInt64(height))
                #expect(committed.dropped.isEmpty)
                lastRoot = committed.block.header.stateRoot
            }
        }
        let store = try ChainStore(datadir: dir.path, rollup: alpha, network: try devnet())
        #expect(try store.head().height == 20)
        #expect(try store.head().stateRoot == lastRoot)
        #expect(try store.verify() == 20)
    }

    @Test func verificationNamesTheBlockWhoseReceiptsWereTamperedWith() throws {
        let dir = try TemporaryDirectory("chain")
        let store = try ChainStore(datadir: dir.path, rollup: try alphaParameters(), network: try devnet())
        _ = try store.commitBlock(candidates: [transfer(dev0, nonce: 0, to: dev1.address, amount: 5)], timestamp: 1)
        _ = try store.commitBlock(candidates: [transfer(dev0, nonce: 1, to: dev1.address, amount: 5)], timestamp: 2)
        try store.environment.write { (txn: WriteTransaction) throws in
            var receipts = try #require(try txn.get(Receipts.self, 2))
            receipts.receipts[0].feePaid += 1
            try txn.put(Receipts.self, 2, receipts)
        }
        #expect(throws: ChainError.verificationFailed(height: 2, what: "receipts differ from re-execution")) {
            try store.verify()
        }
    }
}
