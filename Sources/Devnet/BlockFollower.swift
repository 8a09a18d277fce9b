import API
import Config
import Primitives
import RPC

/// The one block follower: reads one rollup node's blocks from a height on, in order, and hands
/// each to a handler with the time it was seen — what records inclusion for the benchmark (the
/// transactions' latency) and the fault suite (what a sequencer acknowledged). It asks
/// `rollup_getBlock` for the next height: a block is handed over and the next one asked for at
/// once; no block yet (null) waits `interval`. A failed request, or a handler that throws, is
/// reported to `failed` and the same height tried again after `retryAfter`, so a node that is down
/// or restarting is followed on where it was left. It runs until its task is cancelled.
public struct BlockFollower: Sendable {
    /// How much of each transaction `rollup_getBlock` returns.
    public enum Transactions: Sendable {
        /// Only their ids (the smaller answer).
        case ids
        /// Every transaction in full (its call, sender, nonce, …).
        case full
    }

    /// A block as the node served it (read through `RollupClient`: its form checked).
    public struct Block: Sendable {
        public var block: RollupBlock
        /// When the answer arrived.
        public var seenAt: ContinuousClock.Instant

        public var height: UInt64 { block.header.height }
        public var header: BlockHeader { block.header }

        /// The ids of the block's transactions, in either form.
        public var transactionIDs: [Hash] { block.transactions.ids }

        /// The block's transactions in full (empty unless asked for `.full`).
        public var transactions: [SignedTransaction] {
            if case .full(let txs) = block.transactions { return txs }
            return []
        }
    }

    /// The node to ask, asked again for every request (a restarted node may be on a new port).
    public let transport: @Sendable () -> any RPCTransport
    /// The first height to read.
    public let start: UInt64
    public let transactions: Transactions
    /// The wait when the next block is not there yet.
    public let interval: Duration
    /// The wait after a failure.
    public let retryAfter: Duration
    let failed: @Sendable (_ height: UInt64, _ error: any Error) async -> Void
    let handle: @Sendable (Block) async throws -> Void

    /// - Parameters:
    ///   - failed: a request for `height`, or the handler of that block, failed (not called once cancelled).
    ///   - handle: each block in order of height, once (unless it throws: then again, after `retryAfter`).
    public init(
        from start: UInt64, transactions: Transactions = .ids, interval: Duration, retryAfter: Duration,
        transport: @escaping @Sendable () -> any RPCTransport,
        failed: @escaping @Sendable (_ height: UInt64, _ error: any Error) async -> Void = { _, _ in },
        handle: @escaping @Sendable (Block) async throws -> Void
    ) {
        self.start = start
        self.transactions = transactions
        self.interval = interval
        self.retryAfter = retryAfter
        self.transport = transport
        self.failed = failed
        self.handle = handle
    }

    /// Follows the node until the task is cancelled.
    public func run() async {
        var next = start
        while !Task.isCancelled {
            do {
                let client = RollupClient(transport: transport())
                guard let block = try await client.block(.height(next), full: transactions == .full) else {
                    try? await Task.sleep(for: interval)
                    continue
                }
                guard block.header.height == next else {
                    throw RPCClient.TransportError.malformedResponse(
                        "asked for block \(next), the node answered block \(block.header.height)")
                }
                try await handle(Block(block: block, seenAt: .now))
                next += 1
            } catch {
                if Task.isCancelled { break }
                await failed(next, error)
                try? await Task.sleep(for: retryAfter)
            }
        }
    }
}
