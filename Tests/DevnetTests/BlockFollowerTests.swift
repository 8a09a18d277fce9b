import API
import Config
import Devnet
import Foundation
import Primitives
import Synchronization
import Testing
import TributaryTesting

/// The block follower against an in-memory node: every block once, in order, across a node that
/// is down for a while, a handler that fails, and cancellation.
@Suite struct BlockFollowerTests {
    /// The transaction of block `height`: a transfer of dev0 at nonce `height`.
    static func transaction(_ height: Int) -> SignedTransaction {
        let key = DevKeys.account(0)
        return Transaction(
            rollup: RollupID(1), nonce: UInt64(height), sender: key.publicKey, fee: 1,
            call: .transfer(to: key.address, asset: AssetName(rawValue: "ALPHA")!, amount: 1)
        ).signed(by: key)
    }

    /// Block `height` in its RPC form, holding `transaction(height)`.
    static func block(_ height: Int, full: Bool = false) -> JSONValue {
        let txs = [transaction(height)]
        let header = BlockHeader(
            rollup: RollupID(1), height: UInt64(height), parent: .sha256([UInt8(height)]), l1Origin: .none,
            timestamp: UInt64(height), transactionsRoot: MerkleList.root(txs.map(\.id)), stateRoot: .zero,
            outboxRoot: .zero, receiptsRoot: .zero)
        return RollupBlock(Block(header: header, transactions: txs), full: full).json
    }

    @Test func everyBlockOnceInOrderAcrossAnOutageAndAFailingHandler() async throws {
        let node = FakeNode()
        for h in 1...3 { node.append(block: Self.block(h)) }
        let seen = Mutex<[(UInt64, [Hash])]>([]), failures = Mutex<[UInt64]>([])
        let handlerFailed = Mutex(false)
        let follower = BlockFollower(
            from: 2, interval: .milliseconds(5), retryAfter: .milliseconds(5), transport: { node },
            failed: { height, _ in failures.withLock { $0.append(height) } }
        ) { block in
            // The handler fails once, at block 5: it is handed block 5 again.
            if block.height == 5, !handlerFailed.withLock({ $0 }) {
                handlerFailed.withLock { $0 = true }
                throw CancellationError()
            }
            seen.withLock { $0.append((block.height, block.transactionIDs)) }
        }
        let running = Task { await follower.run() }
        #expect(await eventually(60, every: .milliseconds(5)) { seen.withLock { $0.count } == 2 })
        node.fail(next: 3)
        for h in 4...6 { node.append(block: Self.block(h)) }
        #expect(await eventually(60, every: .milliseconds(5)) { seen.withLock { $0.count } == 5 })
        running.cancel()
        await running.value
        #expect(seen.withLock { $0.map(\.0) } == [2, 3, 4, 5, 6])
        #expect(seen.withLock { $0.map(\.1) } == (2...6).map { [Self.transaction($0).id] })
        #expect(failures.withLock { $0 }.count == 4)
        #expect(failures.withLock { $0 }.last == 5)
    }

    @Test func fullTransactionsAreAskedForAndTheirIDsRead() async throws {
        let node = FakeNode()
        node.append(block: Self.block(1, full: true))
        let ids = Mutex<[Hash]>([])
        let follower = BlockFollower(
            from: 1, transactions: .full, interval: .milliseconds(5), retryAfter: .milliseconds(5),
            transport: { node }
        ) { block in ids.withLock { $0 += block.transactions.map(\.id) } }
        let running = Task { await follower.run() }
        #expect(await eventually(60, every: .milliseconds(5)) { !ids.withLock { $0.isEmpty } })
        running.cancel()
        await running.value
        #expect(ids.withLock { $0 } == [Self.transaction(1).id])
        let calls = node.state.withLock { $0.calls }
        #expect(calls.allSatisfy { $0.method == RollupMethod.getBlock.rawValue && $0.params.last == .bool(true) })
    }
}
