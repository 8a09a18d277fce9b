import Primitives
import StateMachine
import StateTree
import Storage
import Testing
import TributaryTesting

let alpha = RollupID(1)
let ALPHA = AssetName(rawValue: "ALPHA")!
let BETA = AssetName(rawValue: "alpha/BETA")!
let sequencerKey = DevKeys.key(named: "alpha/sequencer")
let context = BlockContext(rollup: alpha, height: 2, sequencer: sequencerKey.address, nativeAsset: ALPHA)

/// A memory store holding version 1: `accounts` funded with `amount` of ALPHA and BETA.
func genesis(_ accounts: [SigningKey], amount: UInt64 = 1_000_000) throws -> MemoryTreeStore {
    let store = MemoryTreeStore()
    var writes: [(key: Hash, value: [UInt8]?)] = []
    for key in accounts {
        writes.append((StateKey.balance(key.address, ALPHA), amount.canonicalBytes))
        writes.append((StateKey.balance(key.address, BETA), amount.canonicalBytes))
    }
    store.apply(try StateTree(store).update(base: nil, version: 1, updates: writes))
    return store
}

func transfer(
    _ from: SigningKey, nonce: UInt64, to: Address, _ asset: AssetName, _ amount: UInt64, fee: UInt64 = 1,
    rollup: RollupID = alpha
)
    -> SignedTransaction
{
    Transaction(
        rollup: rollup, nonce: nonce, sender: from.publicKey, fee: fee,
        call: .transfer(to: to, asset: asset, amount: amount)
    )
    .signed(by: from)
}

func balance(_ store: MemoryTreeStore, _ version: Version, _ address: Address, _ asset: AssetName) throws -> UInt64 {
    guard let raw = try StateTree(store).get(StateKey.balance(address, asset), at: version) else { return 0 }
    return try UInt64(canonicalBytes: raw)
}

@Suite struct ExecutorTests {
    let a = DevKeys.account(0), b = DevKeys.account(1)

    @Test func transfersMoveValueAndPayTheSequencer() throws {
        let store = try genesis([a, b])
        let txs = [
            transfer(a, nonce: 0, to: b.address, BETA, 250, fee: 3),
            transfer(a, nonce: 1, to: b.address, ALPHA, 10, fee: 2),
        ]
        let outcome = try Executor.execute(
            txs, context: context, base: TreeStateReader(tree: StateTree(store), version: 1), checkSignatures: true)
        #expect(outcome.receipts.map(\.status) == [.success, .success])
        #expect(outcome.receipts.map(\.feePaid) == [3, 2])
        store.apply(try StateTree(store).update(base: 1, version: 2, updates: outcome.writes))
        #expect(try balance(store, 2, a.address, BETA) == 1_000_000 - 250)
        #expect(try balance(store, 2, b.address, BETA) == 1_000_000 + 250)
        #expect(try balance(store, 2, a.address, ALPHA) == 1_000_000 - 15)
        #expect(try balance(store, 2, b.address, ALPHA) == 1_000_000 + 10)
        #expect(try balance(store, 2, sequencerKey.address, ALPHA) == 5)
        #expect(try StateTree(store).get(StateKey.nonce(a.address), at: 2) == UInt64(2).canonicalBytes)
    }

    @Test func invalidTransactionsAreRefusedWithTheirReason() throws {
        let store = try genesis([a, b], amount: 100)
        let base = TreeStateReader(tree: StateTree(store), version: 1)
        func refuse(_ tx: SignedTransaction, _ expected: InvalidTransaction) {
            #expect(throws: expected) {
                _ = try Executor.execute([tx], context: context, base: base, checkSignatures: true)
            }
        }
        refuse(
            transfer(a, nonce: 0, to: b.address, ALPHA, 1, rollup: RollupID(2)),
            .wrongRollup(expected: alpha, actual: RollupID(2)))
        refuse(transfer(a, nonce: 1, to: b.address, ALPHA, 1), .wrongNonce(expected: 0, actual: 1))
        refuse(transfer(a, nonce: 0, to: b.address, ALPHA, 1, fee: 101), .cannotPayFee(fee: 101, balance: 100))
        var forged = transfer(a, nonce: 0, to: b.address, ALPHA, 1)
        forged.transaction.call = .transfer(to: b.address, asset: ALPHA, amount: 99)
        refuse(forged, .badSignature)
        // A replayed nonce in the same block is refused too.
        let first = transfer(a, nonce: 0, to: b.address, ALPHA, 1)
        #expect(throws: InvalidTransaction.wrongNonce(expected: 1, actual: 0)) {
            _ = try Executor.execute([first, first], context: context, base: base, checkSignatures: true)
        }
    }

    @Test func failingTransfersAreIncludedChargingOnlyTheFee() throws {
        let store = try genesis([a, b], amount: 100)
        let txs = [
            transfer(a, nonce: 0, to: b.address, ALPHA, 100, fee: 1),  // 99 left after the fee: fails
            transfer(a, nonce: 1, to: b.address, BETA, 101, fee: 1),  // more than a holds: fails
            transfer(a, nonce: 2, to: a.address, BETA, 100, fee: 1),  // to self: succeeds, changes nothing
        ]
        let outcome = try Executor.execute(
            txs, context: context, base: TreeStateReader(tree: StateTree(store), version: 1), checkSignatures: true)
        #expect(outcome.receipts.map(\.status) == [.insufficientBalance, .insufficientBalance, .success])
        store.apply(try StateTree(store).update(base: 1, version: 2, updates: outcome.writes))
        #expect(try balance(store, 2, a.address, ALPHA) == 97)
        #expect(try balance(store, 2, a.address, BETA) == 100)
        #expect(try balance(store, 2, b.address, ALPHA) == 100)
        #expect(try balance(store, 2, sequencerKey.address, ALPHA) == 3)
    }

    @Test func transactionsSignedForOneRollupVerifyOnlyThere() throws {
        let tx = transfer(a, nonce: 0, to: b.address, ALPHA, 1)
        #expect(tx.hasValidSignature)
        var moved = tx
        moved.transaction.rollup = RollupID(2)
        #expect(!moved.hasValidSignature)
        #expect(try SignedTransaction(canonicalBytes: tx.canonicalBytes) == tx)
        #expect(throws: CanonicalDecodingError.self) { _ = try AssetName(canonicalBytes: "bad name!".canonicalBytes) }
    }

    /// Randomized blocks (successes, failures, fee-only senders) executed on the LMDB-backed tree and
    /// statelessly on a witness of the keys they touch: identical receipts, writes and roots.
    @Test(arguments: [UInt64(5), 6, 7])
    func blocksExecuteIdenticallyOnTheStoreAndOnAWitness(seed: UInt64) throws {
        print("seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let keys = (0..<12).map { DevKeys.account($0) }
        let dir = try TemporaryDirectory("executor")
        let env = try Environment(path: dir.path)
        let funding = try genesis(keys, amount: 5_000)
        try env.write { txn in
            let writes = keys.flatMap { k in
                [
                    (key: StateKey.balance(k.address, ALPHA), value: Optional(UInt64(5_000).canonicalBytes)),
                    (key: StateKey.balance(k.address, BETA), value: Optional(UInt64(5_000).canonicalBytes)),
                ]
            }
            try LMDBTreeStore.write(
                try StateTree(LMDBTreeReader(txn)).update(base: nil, version: 1, updates: writes), in: txn)
        }
        #expect(
            try env.read { try StateTree(LMDBTreeReader($0)).rootHash(at: 1) }
                == (try StateTree(funding).rootHash(at: 1)))
        var nonces = [UInt64](repeating: 0, count: keys.count)
        var failures = 0, successes = 0
        for height in UInt64(2)...13 {
            var block = BlockContext(rollup: alpha, height: height, sequencer: sequencerKey.address, nativeAsset: ALPHA)
            block.height = height
            // Sequence like a node would: keep the candidates that are valid in turn.
            let included: [SignedTransaction] = try env.read { txn in
                let staging = StateOverlay(
                    base: TreeStateReader(tree: StateTree(LMDBTreeReader(txn)), version: height - 1))
                let accounts = Accounts(staging)
                var out: [SignedTransaction] = []
                for _ in 0..<(20 + Int(rng.next() % 40)) {
                    let i = Int(rng.next() % UInt64(keys.count))
                    let j = Int(rng.next() % UInt64(keys.count))
                    let asset = rng.next() % 2 == 0 ? ALPHA : BETA
                    let amount = rng.next() % 1_500  // often more than a spent account holds: failures
                    let fee = rng.next() % 5 == 0 ? 6_000 : rng.next() % 4  // sometimes unpayable: invalid
                    let tx = transfer(keys[i], nonce: nonces[i], to: keys[j].address, asset, amount, fee: fee)
                    guard (try? Executor.validate(tx, context: block, accounts: accounts, checkSignature: true)) != nil
                    else { continue }
                    _ = try Executor.apply(tx, context: block, accounts: accounts)
                    nonces[i] += 1
                    out.append(tx)
                }
                return out
            }
            let (stored, batch, witness) = try env.write {
                (txn: WriteTransaction) throws -> (BlockOutcome, TreeUpdateBatch, Witness) in
                let tree = StateTree(LMDBTreeReader(txn))
                let outcome = try Executor.execute(
                    included, context: block, base: TreeStateReader(tree: tree, version: height - 1),
                    checkSignatures: true)
                let witness = try tree.witness(for: outcome.touchedKeys, at: height - 1)
                let batch = try tree.update(base: height - 1, version: height, updates: outcome.writes)
                try LMDBTreeStore.write(batch, in: txn)
                return (outcome, batch, witness)
            }
            // Stateless: only the previous root and the witness's bytes.
            let preRoot = try env.read { try StateTree(LMDBTreeReader($0)).rootHash(at: height - 1) }
            var partial = try WitnessTree(
                witness: try Witness(canonicalBytes: witness.canonicalBytes), expectedRoot: preRoot)
            let stateless = try Executor.execute(
                included, context: block, base: WitnessStateReader(partial), checkSignatures: true)
            #expect(stateless.receipts.map(\.canonicalBytes) == stored.receipts.map(\.canonicalBytes))
            #expect(stateless.writes.map(\.key) == stored.writes.map(\.key))
            #expect(stateless.writes.map(\.value) == stored.writes.map(\.value))
            try partial.apply(stateless.writes)
            #expect(partial.rootHash == batch.rootHash, "seed \(seed) height \(height)")
            failures += stored.receipts.filter { $0.status != .success }.count
            successes += stored.receipts.filter { $0.status == .success }.count
        }
        #expect(failures > 0 && successes > 0, "the workload must exercise both outcomes")
        // Value is conserved: every asset's balances still add up to the genesis supply.
        try env.read { txn in
            let tree = StateTree(LMDBTreeReader(txn))
            for asset in [ALPHA, BETA] {
                var total: UInt64 = 0
                for address in keys.map(\.address) + [sequencerKey.address] {
                    if let raw = try tree.get(StateKey.balance(address, asset), at: 13) {
                        total += try UInt64(canonicalBytes: raw)
                    }
                }
                #expect(total == 5_000 * UInt64(keys.count))
            }
        }
    }

    @Test func aWitnessWithoutATouchedKeyCannotExecuteTheBlock() throws {
        let store = try genesis([a, b])
        let tree = StateTree(store)
        let txs = [transfer(a, nonce: 0, to: b.address, BETA, 5)]
        let outcome = try Executor.execute(
            txs, context: context, base: TreeStateReader(tree: tree, version: 1), checkSignatures: true)
        let missing = StateKey.balance(b.address, BETA)
        let witness = try tree.witness(for: outcome.touchedKeys.filter { $0 != missing }, at: 1)
        let partial = try WitnessTree(witness: witness, expectedRoot: try tree.rootHash(at: 1))
        #expect(throws: StateTreeError.self) {
            _ = try Executor.execute(txs, context: context, base: WitnessStateReader(partial), checkSignatures: true)
        }
    }
}
