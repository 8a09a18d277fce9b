import API
import Config
import Devnet
import Foundation
import Synchronization
import Testing
import TributaryTesting

/// The block follower against an in-memory node: every block once, in order, across a node that
/// is down for a while, a handler that fails, and cancellation.
@Suite struct BlockFollowerTests {
    static func block(_ height: Int, full: Bool = false) -> JSONValue {
        let id = JSONValue.string("0x\(height)")
        return .object([
            "height": .number(height), "hash": .string("h\(height)"),
            "transactions": .array([full ? .object(["id": id]) : id]),
        ])
    }

    @Test func everyBlockOnceInOrderAcrossAnOutageAndAFailingHandler() async throws {
        let node = FakeNode()
        for h in 1...3 { node.append(block: Self.block(h)) }
        let seen = Mutex<[(UInt64, [String])]>([]), failures = Mutex<[UInt64]>([])
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
        #expect(await eventually(10, every: .milliseconds(5)) { seen.withLock { $0.count } == 2 })
        node.fail(next: 3)
        for h in 4...6 { node.append(block: Self.block(h)) }
        #expect(await eventually(10, every: .milliseconds(5)) { seen.withLock { $0.count } == 5 })
        running.cancel()
        await running.value
        #expect(seen.withLock { $0.map(\.0) } == [2, 3, 4, 5, 6])
        #expect(seen.withLock { $0.map(\.1) } == (2...6).map { ["0x\($0)"] })
        #expect(failures.withLock { $0 }.count == 4)
        #expect(failures.withLock { $0 }.last == 5)
    }

    @Test func fullTransactionsAreAskedForAndTheirIDsRead() async throws {
        let node = FakeNode()
        node.append(block: Self.block(1, full: true))
        let ids = Mutex<[String]>([])
        let follower = BlockFollower(
            from: 1, transactions: .full, interval: .milliseconds(5), retryAfter: .milliseconds(5),
            transport: { node }
        ) { block in ids.withLock { $0 += block.transactionIDs } }
        let running = Task { await follower.run() }
        #expect(await eventually(10, every: .milliseconds(5)) { !ids.withLock { $0.isEmpty } })
        running.cancel()
        await running.value
        #expect(ids.withLock { $0 } == ["0x1"])
        let calls = node.state.withLock { $0.calls }
        #expect(calls.allSatisfy { $0.method == RollupMethod.getBlock.rawValue && $0.params.last == .bool(true) })
    }
}
