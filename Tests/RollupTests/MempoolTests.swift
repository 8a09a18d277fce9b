import Chain
import Config
import Foundation
import Logging
import Primitives
import Rollup
import StateMachine
import Testing
import TributaryTesting

func transfer(_ from: SigningKey, nonce: UInt64, fee: UInt64 = 1, amount: UInt64 = 1, rollup: RollupID = RollupID(1))
    -> SignedTransaction
{
    Transaction(
        rollup: rollup, nonce: nonce, sender: from.publicKey, fee: fee,
        call: .transfer(to: DevKeys.account(9).address, asset: AssetName(rawValue: "ALPHA")!, amount: amount)
    ).signed(by: from)
}

@Suite struct MempoolTests {
    let a = DevKeys.account(0), b = DevKeys.account(1)
    let rich = (nonce: UInt64(0), nativeBalance: UInt64(1_000_000))

    @Test func eachRefusalHasItsOwnError() throws {
        var limits = Mempool.Limits()
        limits.maxPerSender = 2
        limits.maxTotal = 3
        let pool = Mempool(rollup: RollupID(1), limits: limits)
        let tx = transfer(a, nonce: 0)
        func refuse(
            _ t: SignedTransaction, _ expected: MempoolError, size: Int = 200,
            account: (nonce: UInt64, nativeBalance: UInt64)? = nil
        ) {
            #expect(throws: expected) { try pool.add(t, encodedSize: size, account: account ?? rich) }
        }
        refuse(tx, .tooLarge(size: 9000, limit: 8192), size: 9000)
        refuse(transfer(a, nonce: 0, rollup: RollupID(2)), .wrongRollup(expected: RollupID(1), actual: RollupID(2)))
        var forged = tx
        forged.transaction.fee = 2
        refuse(forged, .badSignature)
        refuse(transfer(a, nonce: 3), .nonceTooLow(next: 4, actual: 3), account: (4, 100))
        refuse(transfer(a, nonce: 9), .nonceTooHigh(next: 0, actual: 9, limit: 2))
        refuse(transfer(a, nonce: 0, fee: 101), .cannotPayFee(fee: 101, balance: 100), account: (0, 100))
        try pool.add(tx, encodedSize: 200, account: rich)
        refuse(tx, .alreadyKnown)
        refuse(transfer(a, nonce: 0, amount: 2), .nonceTaken(nonce: 0))
        try pool.add(transfer(a, nonce: 1), encodedSize: 200, account: rich)
        try pool.add(transfer(b, nonce: 0), encodedSize: 200, account: rich)
        refuse(transfer(DevKeys.account(2), nonce: 0), .full(limit: 3))
        #expect(pool.count == 3)
        #expect(pool.status(of: tx.id) == .pending)
        #expect(pool.pendingNonce(of: a.address) == 2)
    }

    @Test func candidatesKeepNonceOrderPerSenderAndArrivalAcrossSenders() throws {
        let pool = Mempool(rollup: RollupID(1))
        let a1 = transfer(a, nonce: 1), a0 = transfer(a, nonce: 0), b0 = transfer(b, nonce: 0),
            a3 = transfer(a, nonce: 3)
        for tx in [a1, b0, a0, a3] { try pool.add(tx, encodedSize: 200, account: rich) }
        // a's run starts at its nonce 0 (arrived third), b0 arrived second; a3 waits for a2.
        #expect(pool.candidates(limit: 10) == [b0, a0, a1])
        #expect(pool.candidates(limit: 2) == [b0, a0])
    }

    @Test func committedBlocksRemoveIncludedAndDropSupersededTransactions() async throws {
        let dir = try TemporaryDirectory("mempool")
        let alpha = try #require(try Genesis.load(path: genesisPath).rollup(named: "alpha"))
        let store = try ChainStore(datadir: dir.path, rollup: alpha)
        let pool = Mempool(rollup: RollupID(1))
        let good = transfer(a, nonce: 0), next = transfer(a, nonce: 1), unpayable = transfer(b, nonce: 0, fee: 5)
        for tx in [good, next, unpayable] { try pool.add(tx, encodedSize: 200, account: rich) }
        let sequencer = Sequencer(
            store: store, mempool: pool, blockTime: .milliseconds(50), maxTransactions: 100,
            logger: Logger(label: "test"))
        // b spends its whole balance elsewhere first, so its fee can no longer be paid.
        _ = try store.commitBlock(
            candidates: [
                Transaction(
                    rollup: RollupID(1), nonce: 0, sender: b.publicKey, fee: 0,
                    call: .transfer(to: a.address, asset: alpha.nativeAsset, amount: alpha.devAccountBalance)
                ).signed(by: b)
            ], timestamp: 1)
        let committed = try await sequencer.seal()
        #expect(committed.block.transactions == [good, next])
        #expect(pool.count == 0)
        #expect(pool.status(of: good.id) == .unknown)
        if case .dropped(let reason) = pool.status(of: unpayable.id) {
            #expect(reason.contains("nonce"))
        } else {
            Issue.record("the superseded transaction was not dropped: \(pool.status(of: unpayable.id))")
        }
    }
}

let genesisPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Genesis/devnet.json").path

/// A sender's account read before a block that empties it commits must not strand its next transaction.
@Suite struct MempoolStaleAccountTests {
    @Test func aTransactionAdmittedWithAStaleAccountReadIsStillACandidate() throws {
        let key = DevKeys.account(0)
        let dir = try TemporaryDirectory("mempool-stale")
        let alpha = try #require(try Genesis.load(path: genesisPath).rollup(named: "alpha"))
        let store = try ChainStore(datadir: dir.path, rollup: alpha)
        let pool = Mempool(rollup: RollupID(1))
        let first = transfer(key, nonce: 0), second = transfer(key, nonce: 1)
        try pool.add(first, encodedSize: 200, account: (0, 1_000_000))
        // The handler of `second` reads the account (nonce 0) ...
        let stale = (nonce: UInt64(0), nativeBalance: UInt64(1_000_000))
        // ... then the block holding `first` commits and the mempool forgets the emptied sender ...
        pool.blockCommitted(try store.commitBlock(candidates: [first], timestamp: 0))
        #expect(pool.count == 0)
        // ... and only then does the handler admit `second` with what it read.
        try pool.add(second, encodedSize: 200, account: stale)
        #expect(pool.candidates(limit: 10) == [second])
        #expect(pool.pendingNonce(of: key.address) == 2)
    }
}
