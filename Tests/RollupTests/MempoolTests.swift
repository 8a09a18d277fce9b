import Chain
import Config
import Foundation
import Logging
import Primitives
import Rollup
import Settlement
import StateMachine
import Testing
import TributaryTesting

/// A transfer paying 1,000: above the default price (1 per byte) of the 200 bytes the tests say it has.
func transfer(_ from: SigningKey, nonce: UInt64, fee: UInt64 = 1000, amount: UInt64 = 1, rollup: RollupID = RollupID(1))
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
            #expect(throws: expected) { try pool.add(t, encodedSize: size, account: { account ?? rich }) }
        }
        refuse(tx, .tooLarge(size: 9000, limit: 8192), size: 9000)
        refuse(transfer(a, nonce: 0, rollup: RollupID(2)), .wrongRollup(expected: RollupID(1), actual: RollupID(2)))
        var forged = tx
        forged.transaction.fee = 2000
        refuse(forged, .badSignature)
        refuse(transfer(a, nonce: 3), .nonceTooLow(next: 4, actual: 3), account: (4, 100))
        refuse(transfer(a, nonce: 9), .nonceTooHigh(next: 0, actual: 9, limit: 2))
        refuse(transfer(a, nonce: 0, fee: 1001), .cannotPayFee(fee: 1001, balance: 1000), account: (0, 1000))
        refuse(transfer(a, nonce: 0, fee: 199), .feeTooLow(fee: 199, minimum: 200, size: 200, perByte: 1))
        try pool.add(tx, encodedSize: 200, account: { rich })
        refuse(tx, .alreadyKnown)
        refuse(transfer(a, nonce: 0, amount: 2), .nonceTaken(nonce: 0))
        try pool.add(transfer(a, nonce: 1), encodedSize: 200, account: { rich })
        try pool.add(transfer(b, nonce: 0), encodedSize: 200, account: { rich })
        refuse(transfer(DevKeys.account(2), nonce: 0), .full(limit: 3))
        #expect(pool.count == 3)
        #expect(pool.status(of: tx.id) == .pending)
        #expect(pool.pendingNonce(of: a.address) == 2)
    }

    @Test func candidatesKeepNonceOrderPerSenderAndArrivalAcrossSenders() throws {
        let pool = Mempool(rollup: RollupID(1))
        let a1 = transfer(a, nonce: 1), a0 = transfer(a, nonce: 0), b0 = transfer(b, nonce: 0),
            a3 = transfer(a, nonce: 3)
        for tx in [a1, b0, a0, a3] { try pool.add(tx, encodedSize: 200, account: { rich }) }
        // a's run starts at its nonce 0 (arrived third), b0 arrived second; a3 waits for a2.
        #expect(pool.candidates(limit: 10) == [b0, a0, a1])
        #expect(pool.candidates(limit: 2) == [b0, a0])
    }

    @Test func committedBlocksRemoveIncludedAndDropSupersededTransactions() async throws {
        let dir = try TemporaryDirectory("mempool")
        let alpha = try #require(try Genesis.load(path: genesisPath).rollup(named: "alpha"))
        let store = try ChainStore(datadir: dir.path, rollup: alpha, network: Network(try Genesis.load(path: genesisPath)))
        let pool = Mempool(rollup: RollupID(1))
        let good = transfer(a, nonce: 0), next = transfer(a, nonce: 1), unpayable = transfer(b, nonce: 0, fee: 5000)
        for tx in [good, next, unpayable] { try pool.add(tx, encodedSize: 200, account: { rich }) }
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

extension MempoolTests {
    /// The RPC and the relayer admit transactions while the sequencer commits blocks. A sender whose
    /// account was read before a block committed (and `blockCommitted` forgot the sender) used to be
    /// admitted with a stale committed nonce, so its transactions never became ready (the fault suite's
    /// disorder phase caught a relayer stranded so). The pool must always drain.
    @Test func admissionRacingBlockCommitsNeverStrandsASender() async throws {
        let dir = try TemporaryDirectory("mempool-race")
        let alpha = try #require(try Genesis.load(path: genesisPath).rollup(named: "alpha"))
        let store = try ChainStore(datadir: dir.path, rollup: alpha, network: Network(try Genesis.load(path: genesisPath)))
        let pool = Mempool(rollup: RollupID(1))
        let sequencer = Sequencer(
            store: store, mempool: pool, blockTime: .milliseconds(1), maxTransactions: 100,
            logger: Logger(label: "test"))
        let sealing = Task {
            while !Task.isCancelled { _ = try await sequencer.seal() }
        }
        for _ in 0..<1000 {
            // As the relayer does: the next nonce after what is pending or committed.
            let committed = try store.withState { try $0.accounts.nonce(of: a.address) }
            let nonce = max(pool.pendingNonce(of: a.address) ?? 0, committed)
            do {
                try pool.add(transfer(a, nonce: nonce), encodedSize: 200) {
                    try store.withState { view in
                        (
                            nonce: try view.accounts.nonce(of: a.address),
                            nativeBalance: try view.accounts.balance(of: a.address, alpha.nativeAsset)
                        )
                    }
                }
            } catch let error as MempoolError {
                // A block can commit between the nonce choice and admission; that refusal is fine.
                guard case .nonceTooLow = error else { throw error }
            }
            await Task.yield()
        }
        sealing.cancel()
        _ = await sealing.result
        for _ in 0..<5 where pool.count > 0 { _ = try await sequencer.seal() }
        #expect(
            pool.count == 0,
            "\(pool.count) transactions stranded; pending nonce \(pool.pendingNonce(of: a.address) ?? 0)")
    }
}

let genesisPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Genesis/devnet.json").path

/// Issue 13 finding 8: admission has a price, and transactions that can never become ready cannot
/// crowd out ones that are.
extension MempoolTests {
    /// The price is per byte of the signed transaction: a fee of exactly size × price is admitted, one
    /// less is refused with its own error; a price of 0 admits fee-0 transactions.
    @Test func theFeeMustPayThePricePerByte() throws {
        var limits = Mempool.Limits()
        limits.minFeePerByte = 3
        let pool = Mempool(rollup: RollupID(1), limits: limits)
        #expect(throws: MempoolError.feeTooLow(fee: 599, minimum: 600, size: 200, perByte: 3)) {
            try pool.add(transfer(a, nonce: 0, fee: 599), encodedSize: 200, account: { rich })
        }
        try pool.add(transfer(a, nonce: 0, fee: 600), encodedSize: 200, account: { rich })
        // The real size of a signed transfer of ALPHA: 154 bytes, so its least fee at 1 per byte is 154.
        let unsigned = Transaction(
            rollup: RollupID(1), nonce: 0, sender: b.publicKey, fee: 0,
            call: .transfer(to: a.address, asset: AssetName(rawValue: "ALPHA")!, amount: 1))
        let paying = unsigned.payingMinimumFee(perByte: 1)
        #expect(paying.fee == 154 && paying.signedEncodedSize == 154)
        #expect(paying.signed(by: b).canonicalBytes.count == 154)
        var free = Mempool.Limits()
        free.minFeePerByte = 0
        try Mempool(rollup: RollupID(1), limits: free).add(
            transfer(b, nonce: 0, fee: 0), encodedSize: 200, account: { rich })
    }

    /// The review's attack: many keys each filling their per-sender quota with nonces far above their
    /// next one. Each key now holds at most `maxNotReadyPerSender` of them; once they fill the pool a
    /// normal user's ready transaction evicts the oldest of them instead of being refused, and a gapped
    /// transaction never evicts anything.
    @Test func gappedNoncesFromManyKeysNeverCrowdOutAReadyTransaction() throws {
        var limits = Mempool.Limits()
        let quota = limits.maxNotReadyPerSender
        limits.maxTotal = 50 * quota
        let pool = Mempool(rollup: RollupID(1), limits: limits)
        var admitted: [SignedTransaction] = []
        var capped = 0, full = 0
        for k in 0..<52 {
            let key = DevKeys.key(named: "spammer\(k)")
            for nonce in 1...UInt64(quota + 1) {  // nonce 0 never comes: none of these can become ready
                let tx = transfer(key, nonce: nonce)
                do {
                    try pool.add(tx, encodedSize: 200, account: { rich })
                    admitted.append(tx)
                } catch MempoolError.tooManyNotReady(let limit) {
                    #expect(limit == quota)
                    capped += 1
                } catch MempoolError.full {
                    full += 1
                }
            }
        }
        // 50 keys fill the pool, each refused its (quota + 1)th gapped transaction; the last 2 find it full.
        #expect(capped == 50)
        #expect(full == 2 * (quota + 1))
        #expect(pool.count == limits.maxTotal)
        // A normal user's ready transaction is admitted; the oldest gapped one made room.
        let user = DevKeys.account(5)
        let ready = transfer(user, nonce: 0)
        try pool.add(ready, encodedSize: 200, account: { rich })
        #expect(pool.status(of: ready.id) == .pending)
        #expect(pool.count == limits.maxTotal)
        guard case .dropped(let reason) = pool.status(of: admitted[0].id) else {
            Issue.record("the oldest gapped transaction was not evicted: \(pool.status(of: admitted[0].id))")
            return
        }
        #expect(reason.contains("evicted from the full mempool"), "\(reason)")
        #expect(pool.candidates(limit: 10) == [ready])
        // A gapped transaction does not evict: the pool stays full for it.
        #expect(throws: MempoolError.full(limit: limits.maxTotal)) {
            try pool.add(transfer(user, nonce: 5), encodedSize: 200, account: { rich })
        }
        // The user's next ready transactions keep being admitted, each evicting one gapped transaction.
        for nonce in 1...UInt64(20) { try pool.add(transfer(user, nonce: nonce), encodedSize: 200, account: { rich }) }
        #expect(pool.pendingNonce(of: user.address) == 21)
    }

    /// A transaction that stays behind a gap for `notReadyExpiryBlocks` blocks is dropped; one whose
    /// gap is filled in time stays and becomes ready.
    @Test func notReadyTransactionsExpireAfterABoundedNumberOfBlocks() async throws {
        let dir = try TemporaryDirectory("mempool-expiry")
        let alpha = try #require(try Genesis.load(path: genesisPath).rollup(named: "alpha"))
        let store = try ChainStore(datadir: dir.path, rollup: alpha, network: Network(try Genesis.load(path: genesisPath)))
        var limits = Mempool.Limits()
        limits.notReadyExpiryBlocks = 3
        let pool = Mempool(rollup: RollupID(1), limits: limits)
        let sequencer = Sequencer(
            store: store, mempool: pool, blockTime: .milliseconds(50), maxTransactions: 100,
            logger: Logger(label: "test"))
        let stranded = transfer(a, nonce: 7), waiting = transfer(b, nonce: 1)
        for tx in [stranded, waiting] { try pool.add(tx, encodedSize: 200, account: { rich }) }
        _ = try await sequencer.seal()
        _ = try await sequencer.seal()
        #expect(pool.status(of: stranded.id) == .pending)
        try pool.add(transfer(b, nonce: 0), encodedSize: 200, account: { rich })  // fills b's gap
        _ = try await sequencer.seal()
        guard case .dropped(let reason) = pool.status(of: stranded.id) else {
            Issue.record("a transaction not ready for 3 blocks is still \(pool.status(of: stranded.id))")
            return
        }
        #expect(reason.contains("not ready for 3 blocks"), "\(reason)")
        // b's transactions were included by that block (an included transaction is forgotten).
        #expect(pool.status(of: waiting.id) == .unknown)
        #expect(pool.count == 0)
        #expect(try store.withState { try $0.accounts.nonce(of: b.address) } == 2)
    }
}
