import Chain
import Config
import Foundation
import Logging
import Metrics
import Prometheus
import RPC
import Rollup
import ServiceLifecycle
import Storage

/// Process-wide metrics: swift-metrics backed by a Prometheus registry, bootstrapped once.
public enum NodeMetrics {
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped: Void = { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }()

    /// Installs the Prometheus backend (idempotent).
    public static func bootstrap() { _ = bootstrapped }
}

/// A rollup node process: the chain store, the mempool, the sequencer and the RPC server, run as a
/// service group that shuts down gracefully on SIGTERM or SIGINT (the server stops first, then the
/// sequencer finishes the block in flight).
public struct RollupNode: Sendable {
    public var genesis: Genesis
    public var rollup: RollupParameters
    public var datadir: String
    public var rpcHost = "127.0.0.1"
    /// 0 picks any free port; the bound URL is reported through `onListening`.
    public var rpcPort = 0
    public var storage = Environment.Options()

    public init(genesis: Genesis, rollup: RollupParameters, datadir: String) {
        self.genesis = genesis
        self.rollup = rollup
        self.datadir = datadir
    }

    public func run(logger: Logger, onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        NodeMetrics.bootstrap()
        var storage = self.storage
        storage.logger = logger
        let store = try ChainStore(datadir: datadir, rollup: rollup, options: storage)
        let head = try store.head()
        logger.info(
            "chain opened",
            metadata: [
                "rollup.name": "\(rollup.name)", "rollup.id": "\(rollup.id)", "block.height": "\(head.height)",
                "state.root": "\(head.stateRoot)", "storage.path": "\(datadir)",
            ])
        let mempool = Mempool(rollup: rollup.id)
        let sequencer = Sequencer(
            store: store, mempool: mempool, blockTime: .milliseconds(Int64(rollup.blockTimeMs)),
            maxTransactions: Int(rollup.maxBlockTransactions), logger: logger)
        var dispatcher = RPCDispatcher()
        RollupRPC(store: store, mempool: mempool).register(into: &dispatcher)
        let server = RPCServer(
            dispatcher: dispatcher,
            health: {
                guard let head = try? store.head() else {
                    return (false, .object(["status": .string("store unreadable")]))
                }
                return (
                    true,
                    .object([
                        "status": .string("ok"), "height": .number(head.height), "rollup": .string(store.rollup.name),
                    ])
                )
            },
            metrics: { NodeMetrics.registry.emitToBuffer() })
        let host = rpcHost
        let app = server.application(host: host, port: rpcPort, logger: logger) { port in
            let url = "http://\(host):\(port)"
            logger.info("rpc listening", metadata: ["rpc.url": "\(url)"])
            onListening(url)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: sequencer), .init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
