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
            #expect(throws: expected) { try pool.add(t, encodedSize: size, account: { account ?? rich }) }
        }
        refuse(tx, .tooLarge(size: 9000, limit: 8192), size: 9000)
        refuse(transfer(a, nonce: 0, rollup: RollupID(2)), .wrongRollup(expected: RollupID(1), actual: RollupID(2)))
        var forged = tx
        forged.transaction.fee = 2
        refuse(forged, .badSignature)
        refuse(transfer(a, nonce: 3), .nonceTooLow(next: 4, actual: 3), account: (4, 100))
        refuse(transfer(a, nonce: 9), .nonceTooHigh(next: 0, actual: 9, limit: 2))
        refuse(transfer(a, nonce: 0, fee: 101), .cannotPayFee(fee: 101, balance: 100), account: (0, 100))
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
        let store = try ChainStore(datadir: dir.path, rollup: alpha)
        let pool = Mempool(rollup: RollupID(1))
        let good = transfer(a, nonce: 0), next = transfer(a, nonce: 1), unpayable = transfer(b, nonce: 0, fee: 5)
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
        let store = try ChainStore(datadir: dir.path, rollup: alpha)
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
