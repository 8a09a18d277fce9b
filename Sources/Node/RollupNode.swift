import API
import Chain
import Config
import Foundation
import HTTPServer
import Logging
import Metrics
import Primitives
import Prometheus
import RPC
import Rollup
import ServiceLifecycle
import Settlement
import StateMachine
import Storage

/// Process-wide metrics: swift-metrics backed by a Prometheus registry, bootstrapped once.
public enum NodeMetrics {
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped: Void = { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }()

    /// Installs the Prometheus backend (idempotent).
    public static func bootstrap() { _ = bootstrapped }
}

/// A service that runs `body` every `interval` until shutdown, on the one `ServiceLoop`.
struct LoopService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    let body: @Sendable () async throws -> Void

    /// Throws only fatal storage errors.
    func run() async throws {
        try await ServiceLoop(name: name, pace: .every(interval), logger: logger).run {
            try await body()
            return true
        }
    }
}

/// A rollup node process, run as a service group that shuts down gracefully on SIGTERM or SIGINT.
///
/// * Sequencer (default): catches up from the L1's blobs first (so an empty datadir syncs its own
///   rollup from DA), then runs the mempool, the sequencer, the batcher and the proposer.
/// * Follower (`follow`): builds the rollup's chain from the L1's blobs alone, checks every claimed
///   root, challenges false outputs, and proposes honest ones when the L1 lets anyone propose.
public struct RollupNode: Sendable {
    public var genesis: Genesis
    public var rollup: RollupParameters
    public var datadir: String
    public var rpcHost = "127.0.0.1"
    /// 0 picks any free port; the bound URL is reported through `onListening`.
    public var rpcPort = 0
    /// The RPC server's connection caps and timeouts.
    public var connectionLimits = ConnectionLimits.devnet
    public var storage = Environment.Options()
    /// The L1 node's RPC URL (default: the genesis's).
    public var l1URL: String
    /// Follow the rollup from the L1 instead of sequencing it.
    public var follow = false
    /// Run without an L1: no sync, batcher or proposer (tests of the sequencer alone).
    public var standalone = false
    /// Relay the messages peers send to this rollup (on by default).
    public var autoRelay = true
    /// Testing knob (`--fault`): the lies this sequencer tells (docs/reliability.md).
    public var lies = Lies()

    public init(genesis: Genesis, rollup: RollupParameters, datadir: String) {
        self.genesis = genesis
        self.rollup = rollup
        self.datadir = datadir
        self.l1URL = genesis.l1.rpc
    }

    func key(_ role: RoleKey) -> SigningKey { DevKeys.key(named: role.name, seed: genesis.devSeed) }

    public func run(logger: Logger, onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        NodeMetrics.bootstrap()
        var storage = self.storage
        storage.logger = logger
        let store = try ChainStore(datadir: datadir, rollup: rollup, network: Network(genesis), options: storage)
        store.lies = lies
        if !lies.isEmpty {
            logger.warning(
                "FAULT INJECTION: this sequencer lies (a testing knob)", metadata: ["lies": "\(lies)"])
        }
        let head = try store.head()
        logger.info(
            "chain opened",
            metadata: [
                "rollup.name": "\(rollup.name)", "rollup.id": "\(rollup.id)", "block.height": "\(head.height)",
                "state.root": "\(head.stateRoot)", "storage.path": "\(datadir)",
                "mode": "\(follow ? "follower" : "sequencer")",
            ])
        let l1 = L1Client(url: l1URL)
        if !standalone {
            // A store that is not a prefix of the L1's chain (another chain's snapshot, a fork) is
            // refused before the node serves or builds on it.
            do {
                let report = try await L1Consistency.check(
                    environment: store.environment, rollup: rollup.id, l1: l1, mayBeAhead: !follow)
                if let divergence = report.divergence {
                    logger.critical(
                        "the store diverges from the L1; not starting",
                        metadata: ["reason": "\(divergence)", "storage.path": "\(datadir)"])
                    throw StoreDivergesError(datadir: datadir, reason: divergence)
                }
                logger.info(
                    "store checked against the L1",
                    metadata: [
                        "block.height": "\(report.head)", "da.height": "\(report.daHeight)",
                        "batches": "\(report.batchesCompared)",
                    ])
            } catch let error as StoreDivergesError {
                throw error
            } catch {
                if let fatal = StorageError.fatal(error) { throw stop(fatal, store) }
                logger.warning(
                    "could not check the store against the L1 (unreachable); derivation checks each block it meets",
                    metadata: ["error": "\(error)"])
            }
        }
        let deriver = Deriver(store: store, l1: l1, logger: logger)
        let watcher = L1Watcher(l1: l1, own: rollup.id, peers: genesis.rollups.map(\.id).filter { $0 != rollup.id })
        let l1Tick = Duration.milliseconds(Int64(max(50, genesis.l1.blockTimeMs / 2)))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var mempoolLimits = Mempool.Limits()
        mempoolLimits.minFeePerByte = rollup.mempool.minFeePerByte
        let mempool = Mempool(rollup: rollup.id, limits: mempoolLimits)
        let batcher = Batcher(store: store, l1: l1, key: key(rollup.batcher), logger: logger)
        let sequencing = !follow && !standalone

        if !standalone {
            services.append(
                .init(
                    service: LoopService(name: "l1 watcher", interval: l1Tick, logger: logger) { await watcher.poll() })
            )
        }
        if follow {
            services.append(
                .init(
                    service: LoopService(name: "derivation", interval: l1Tick, logger: logger) {
                        try await deriver.catchUp()
                    }))
            services.append(
                .init(
                    service: Challenger(
                        deriver: deriver, watcher: watcher, key: key(rollup.challenger), interval: l1Tick, logger: logger)
                ))
            services.append(
                .init(
                    service: Proposer(
                        store: store, l1: l1, watcher: watcher, key: key(rollup.challenger), fallbackOnly: true,
                        logger: logger)))
        } else {
            if !standalone {
                // Sync what the L1 already has (a fresh or restored datadir) before sequencing.
                do {
                    try await deriver.catchUp()
                    await watcher.poll()
                    let synced = try store.head().height
                    if synced > head.height {
                        logger.info("synced from the L1", metadata: ["block.height": "\(synced)"])
                    }
                } catch {
                    if let fatal = StorageError.fatal(error) { throw stop(fatal, store) }
                    logger.warning(
                        "the L1 is unreachable; sequencing without syncing from it", metadata: ["error": "\(error)"])
                }
            }
            let sequencer = Sequencer(
                store: store, mempool: mempool, blockTime: .milliseconds(Int64(rollup.blockTimeMs)),
                maxTransactions: Int(rollup.maxBlockTransactions), logger: logger, l1: { watcher.view })
            services.append(.init(service: sequencer))
            if !standalone, autoRelay {
                services.append(
                    .init(
                        service: Relayer(
                            store: store, mempool: mempool, genesis: genesis, watcher: watcher, l1: l1,
                            key: key(rollup.treasury), datadir: datadir, storage: storage, interval: l1Tick,
                            logger: logger)))
            }
            if !standalone {
                services.append(.init(service: batcher))
                services.append(
                    .init(
                        service: Proposer(
                            store: store, l1: l1, watcher: watcher, key: key(rollup.proposer), fallbackOnly: false,
                            logger: logger)))
            }
        }

        var rpc = RollupRPC(store: store, mempool: mempool)
        rpc.followOnly = follow
        rpc.genesis = genesis
        rpc.l1 = standalone ? nil : l1
        let standalone = self.standalone
        rpc.l1View = {
            guard !standalone else { return nil }
            var view = RollupNodeStatus.L1View(url: l1.url, height: watcher.origin.height)
            if let s = watcher.lastStatus?.rollup(store.rollup.id) {
                view.daHeight = s.daHeight
                view.finalizedHeight = s.finalizedHeight
                view.brokenAt = s.brokenAt
            }
            view.firstFault = (try? deriver.firstFault())?.height
            view.halted = deriver.haltReason
            return view
        }
        var dispatcher = RPCDispatcher()
        rpc.register(into: &dispatcher)
        var server = RPCServer(
            dispatcher: dispatcher,
            health: {
                guard let head = try? store.head() else {
                    return (false, .object(["status": .string("store unreadable")]))
                }
                if let divergence = deriver.divergence {
                    return (
                        false,
                        .object([
                            "status": .string("store diverges from the L1"), "reason": .string(divergence),
                            "height": .number(head.height), "rollup": .string(store.rollup.name),
                        ])
                    )
                }
                if sequencing, let refused = batcher.refusedBecause {
                    return (
                        false,
                        .object([
                            "status": .string("batches refused by the L1"), "reason": .string(refused),
                            "height": .number(head.height), "rollup": .string(store.rollup.name),
                        ])
                    )
                }
                return (
                    true,
                    .object([
                        "status": .string("ok"), "height": .number(head.height), "rollup": .string(store.rollup.name),
                    ])
                )
            },
            metrics: { NodeMetrics.registry.emitToBuffer() })
        server.limits = connectionLimits
        let host = rpcHost
        let app = server.application(host: host, port: rpcPort, logger: logger) { port in
            let url = "http://\(host):\(port)"
            logger.info("rpc listening", metadata: ["rpc.url": "\(url)"])
            onListening(url)
        }
        // Services stop in reverse order: the server first, then the rest.
        services.append(.init(service: app))
        // A service that fails (a fatal storage error) stops the others as SIGTERM would: the server closes, the
        // loops finish their step; then the error ends the process.
        for i in services.indices { services[i].failureTerminationBehavior = .gracefullyShutdownGroup }
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            guard let fatal = StorageError.fatal(error) else { throw error }
            throw stop(fatal, store)
        }
    }

    /// The stop on a fatal storage error, with the head the store still holds.
    /// The node refused to start: its store is not the L1's chain.
    public struct StoreDivergesError: Error, CustomStringConvertible {
        public var datadir: String
        public var reason: String
        public var description: String {
            "the store in \(datadir) diverges from the L1: \(reason). Restore a snapshot of this chain, or start on an empty datadir to sync from the L1 (`tributary db check-l1 --datadir \(datadir)` shows the divergence)"
        }
    }

    func stop(_ error: StorageError, _ store: ChainStore) -> StorageStop {
        var path = datadir
        if case .noSpace(let failed, _, _, _, _) = error { path = failed }
        if case .mapFullCannotGrow(_, _, let failed, _) = error { path = failed }
        return StorageStop(error: error, path: path, lastCommitted: try? store.head().height)
    }
}
