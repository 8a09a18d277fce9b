import Config
import Dispatch
import Foundation
import HTTPServer
import L1Chain
import Logging
import Metrics
import Primitives
import RPC
import ServiceLifecycle
import Settlement
import Storage
import Synchronization

/// Seals an L1 block every `blockTime`, applying the transactions submitted since the last one in
/// arrival order. A submitter is answered once the block holding its transaction is committed, so
/// an acknowledged transaction survives `kill -9`.
public final class L1Producer: Service, Sendable {
    public let store: L1Store
    public let blockTime: Duration
    let logger: Logger
    let committer = DispatchQueue(label: "tributary.l1.commit")
    typealias Waiter = CheckedContinuation<Result<L1Outcome, L1Rejection>, Never>
    let queue = Mutex<[(L1Transaction, Waiter)]>([])
    let stopped = Mutex(false)

    let blocks = Counter(label: "tributary_l1_blocks_total")
    let accepted = Counter(label: "tributary_l1_transactions_total")
    let rejected = Counter(label: "tributary_l1_transactions_rejected_total")
    let height = Gauge(label: "tributary_l1_head_height")

    public init(store: L1Store, blockTime: Duration, logger: Logger) {
        self.store = store
        self.blockTime = blockTime
        self.logger = logger
    }

    /// Submits a transaction and waits for the block that accepts or refuses it.
    public func submit(_ tx: L1Transaction) async throws -> L1Outcome {
        try store.precheck(tx)
        if case .postBlob(let post) = tx, let existing = try store.existingBlob(post) { return existing }
        let result: Result<L1Outcome, L1Rejection> = await withCheckedContinuation { waiter in
            let refused = queue.withLock { q -> Bool in
                if stopped.withLock({ $0 }) { return true }
                q.append((tx, waiter))
                return false
            }
            if refused { waiter.resume(returning: .failure(L1Rejection(-32603, "the L1 node is shutting down"))) }
        }
        return try result.get()
    }

    public func run() async throws {
        let clock = ContinuousClock()
        var deadline = clock.now + blockTime
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(until: deadline, clock: clock)
            if Task.isCancelled { break }
            try await seal()
            deadline = max(deadline + blockTime, clock.now)
        }
        // Answer everyone still waiting: one last block with what was submitted.
        stopped.withLock { $0 = true }
        try await seal()
        let height = try store.head().height
        logger.info("l1 stopped", metadata: ["l1.height": "\(height)"])
    }

    func seal() async throws {
        let batch = queue.withLock { q in
            let taken = q
            q.removeAll()
            return taken
        }
        let timestamp = UInt64(Date().timeIntervalSince1970 * 1000)
        let store = self.store
        let txs = batch.map(\.0)
        let produced: (header: L1BlockHeader, results: [Result<L1Outcome, L1Rejection>])
        do {
            produced = try await withCheckedThrowingContinuation { c in
                committer.async { c.resume(with: Result { try store.produceBlock(txs, timestamp: timestamp) }) }
            }
        } catch {
            // Nothing of the block was committed: no submitter hears anything but the failure, and nothing
            // submitted from now on is queued (the node stops on this error).
            let waiting = queue.withLock { q in
                stopped.withLock { $0 = true }
                let taken = q
                q.removeAll()
                return taken
            }
            let rejection = L1Rejection(-32603, "the L1 could not commit its block and stops: \(error)")
            for (_, waiter) in batch + waiting { waiter.resume(returning: .failure(rejection)) }
            throw error
        }
        for ((_, waiter), result) in zip(batch, produced.results) {
            switch result {
            case .success: accepted.increment()
            case .failure: rejected.increment()
            }
            waiter.resume(returning: result)
        }
        blocks.increment()
        height.record(Int64(produced.header.height))
        for result in produced.results {
            if case .success(.challenge(let id, let h, let reason, let invalidated, _)) = result {
                logger.notice(
                    "challenge won",
                    metadata: [
                        "challenge.id": "\(id)", "l1.height": "\(h)", "outputs.invalidated": "\(invalidated)",
                        "reason": "\(reason)",
                    ])
            }
            if case .success(.challengeLost(let id, let h, let reason, let forfeited)) = result {
                logger.info(
                    "challenge lost",
                    metadata: [
                        "challenge.id": "\(id)", "l1.height": "\(h)", "bond.forfeited": "\(forfeited)",
                        "reason": "\(reason)",
                    ])
            }
        }
    }
}

/// The L1 node process: store, block producer and RPC server, shut down gracefully on SIGTERM or
/// SIGINT.
public struct L1Node: Sendable {
    public var genesis: Genesis
    public var datadir: String
    public var rpcHost = "127.0.0.1"
    public var rpcPort = 0
    public var storage = Environment.Options()
    /// The response budget of one HTTP request, a JSON-RPC batch included (`ResponseBudget`).
    public var maxResponseBytes = 64 << 20
    /// The RPC server's connection caps and timeouts.
    public var connectionLimits = ConnectionLimits.devnet

    public init(genesis: Genesis, datadir: String) {
        self.genesis = genesis
        self.datadir = datadir
    }

    public func run(
        logger: Logger, metrics: @escaping @Sendable () -> [UInt8], onListening: @escaping @Sendable (String) -> Void
    ) async throws {
        var storage = self.storage
        storage.logger = logger
        let store = try L1Store(datadir: datadir, genesis: genesis, options: storage)
        let head = try store.head()
        logger.info(
            "l1 opened",
            metadata: ["l1.height": "\(head.height)", "l1.hash": "\(head.hash)", "storage.path": "\(datadir)"])
        let producer = L1Producer(
            store: store, blockTime: .milliseconds(Int64(genesis.l1.blockTimeMs)), logger: logger)
        var dispatcher = RPCDispatcher()
        dispatcher.maxResponseBytes = maxResponseBytes
        L1RPC(store: store, producer: producer).register(into: &dispatcher)
        var server = RPCServer(
            dispatcher: dispatcher,
            health: {
                guard let head = try? store.head() else {
                    return (false, .object(["status": .string("store unreadable")]))
                }
                return (
                    true, .object(["status": .string("ok"), "height": .number(head.height), "chain": .string("l1")])
                )
            },
            metrics: metrics)
        // Blobs travel hex-encoded: twice their size, plus room for the envelope.
        server.maxBodyBytes = max(1 << 20, Int(genesis.l1.maxBlobBytes) * 2 + (64 << 10), 32 << 20)
        server.limits = connectionLimits
        let host = rpcHost
        let app = server.application(host: host, port: rpcPort, logger: logger) { port in
            let url = "http://\(host):\(port)"
            logger.info("rpc listening", metadata: ["rpc.url": "\(url)"])
            onListening(url)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app, failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: producer, failureTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            guard let fatal = StorageError.fatal(error) else { throw error }
            var path = datadir
            if case .noSpace(let failed, _, _, _, _) = fatal { path = failed }
            throw StorageStop(error: fatal, path: path, lastCommitted: try? store.head().height)
        }
    }
}
