import Chain
import Dispatch
import Foundation
import Logging
import Metrics
import Primitives
import ServiceLifecycle
import StateMachine

/// Seals a block every `blockTime` (early when the mempool holds a full block), executing and
/// committing it in one write transaction. On graceful shutdown it finishes the block in flight
/// and stops.
public final class Sequencer: Service, Sendable {
    public let store: ChainStore
    public let mempool: Mempool
    public let blockTime: Duration
    public let maxTransactions: Int
    let logger: Logger
    /// Commits run here: an LMDB commit blocks, and the cooperative pool has one thread per core.
    let committer = DispatchQueue(label: "tributary.sequencer.commit")
    let onCommit: @Sendable (CommittedBlock) -> Void
    /// The L1 block the next rollup block builds on (the newest one the node has seen) and the L1
    /// facts as of it.
    let l1: @Sendable () -> (origin: L1Origin, view: any L1View)

    let blocks = Counter(label: "tributary_blocks_total")
    let transactions = Counter(label: "tributary_transactions_total")
    let dropped = Counter(label: "tributary_transactions_dropped_total")
    let commitLatency = Timer(label: "tributary_block_commit_seconds")
    let mempoolSize = Gauge(label: "tributary_mempool_transactions")
    let headHeight = Gauge(label: "tributary_head_height")

    public init(
        store: ChainStore, mempool: Mempool, blockTime: Duration, maxTransactions: Int, logger: Logger,
        l1: @escaping @Sendable () -> (origin: L1Origin, view: any L1View) = { (.none, NoL1()) },
        onCommit: @escaping @Sendable (CommittedBlock) -> Void = { _ in }
    ) {
        self.l1 = l1
        self.store = store
        self.mempool = mempool
        self.blockTime = blockTime
        self.maxTransactions = maxTransactions
        self.logger = logger
        self.onCommit = onCommit
    }

    public func run() async throws {
        let clock = ContinuousClock()
        var deadline = clock.now + blockTime
        let tick = min(blockTime, .milliseconds(5))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if clock.now < deadline, mempool.count < maxTransactions {
                try? await Task.sleep(for: tick)
                continue
            }
            try await seal()
            deadline = max(deadline + blockTime, clock.now)
        }
        let height = try store.head().height
        logger.info("sequencer stopped", metadata: ["block.height": "\(height)"])
    }

    /// Builds and commits the next block from the mempool's ready transactions.
    @discardableResult
    public func seal() async throws -> CommittedBlock {
        let candidates = mempool.candidates(limit: maxTransactions)
        let timestamp = UInt64(Date().timeIntervalSince1970 * 1000)
        let start = ContinuousClock.now
        let store = self.store
        let (origin, view) = l1()
        let committed = try await withCheckedThrowingContinuation { continuation in
            committer.async {
                continuation.resume(
                    with: Result {
                        try store.commitBlock(candidates: candidates, timestamp: timestamp, l1Origin: origin, l1: view)
                    })
            }
        }
        commitLatency.recordInterval(since: start)
        mempool.blockCommitted(committed)
        blocks.increment()
        transactions.increment(by: committed.block.transactions.count)
        dropped.increment(by: committed.dropped.count)
        mempoolSize.record(mempool.count)
        headHeight.record(Int64(committed.block.header.height))
        if !committed.block.transactions.isEmpty || !committed.dropped.isEmpty {
            logger.debug(
                "block sealed",
                metadata: [
                    "block.height": "\(committed.block.header.height)",
                    "block.transactions": "\(committed.block.transactions.count)",
                    "block.dropped": "\(committed.dropped.count)",
                ])
        }
        onCommit(committed)
        return committed
    }
}

extension Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
