import Config
import Foundation
import Primitives
import TributaryTesting

/// A devnet of real processes for the benchmarks that need one (`bench messages`, `bench load`):
/// a generated genesis with every RPC address on a free port, an L1 node and one rollup node per
/// rollup (alpha, beta, gamma, …), each a child process with its own datadir and log under a
/// temporary directory. `stop()` (or deinitialisation) stops them all.
final class BenchDevnet: @unchecked Sendable {
    struct Config: Sendable {
        var rollups = 2
        var l1BlockTimeMs = 250
        var windowBlocks = 8
        var rollupBlockTimeMs = 100
        var outputIntervalBlocks = 5
        var maxBlockTransactions = 5000
        var devAccounts = 10
    }

    static let names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]

    /// The rollup name `tributary genesis generate` gives the `index`-th rollup.
    static func name(_ index: Int) -> String { index < names.count ? names[index] : "rollup\(index + 1)" }

    let dir: TemporaryDirectory
    let genesis: Genesis
    let l1: NodeProcess
    /// The rollup nodes, in the genesis's order.
    private(set) var nodes: [NodeProcess] = []

    /// Writes the genesis and starts the L1, then every rollup node; throws if one does not come up.
    init(_ prefix: String, config: Config) throws {
        dir = try TemporaryDirectory(prefix)
        let ports = try (0...config.rollups).map { _ in try freePort() }
        let genesisPath = dir.appending("genesis.json")
        try Data(Self.genesisJSON(config, ports: ports).utf8).write(to: URL(fileURLWithPath: genesisPath))
        genesis = try Genesis.load(path: genesisPath)
        l1 = try NodeProcess(
            ["l1", "--genesis", genesisPath, "--datadir", dir.appending("l1"), "--log-level", "warning"],
            logPath: dir.appending("l1.log"))
        do {
            for r in genesis.rollups {
                nodes.append(
                    try NodeProcess(
                        [
                            "node", "--genesis", genesisPath, "--rollup", r.name, "--datadir", dir.appending(r.name),
                            "--log-level", "warning",
                        ],
                        logPath: dir.appending("\(r.name).log")))
            }
        } catch {
            stop()
            throw error
        }
    }

    static func genesisJSON(_ config: Config, ports: [Int]) -> String {
        let rollups = (0..<config.rollups).map { i in
            let name = name(i)
            return """
                {"id": \(i + 1), "name": "\(name)", "rpc": "http://127.0.0.1:\(ports[i + 1])", "blockTimeMs": \(config.rollupBlockTimeMs),
                 "maxBlockTransactions": \(config.maxBlockTransactions),
                 "batch": {"maxBytes": 262144, "maxBlocks": 50, "maxAgeMs": \(config.rollupBlockTimeMs)},
                 "outputIntervalBlocks": \(config.outputIntervalBlocks), "nativeAsset": {"name": "\(name.uppercased())", "supply": 1000000000000000},
                 "devAccounts": {"count": \(config.devAccounts), "balance": 1000000000000}}
                """
        }
        return """
            {"l1": {"rpc": "http://127.0.0.1:\(ports[0])", "blockTimeMs": \(config.l1BlockTimeMs), "fraudWindowBlocks": \(config.windowBlocks),
                    "bond": 1000, "proposerSilenceBlocks": 1000},
             "rollups": [\(rollups.joined(separator: ", "))]}
            """
    }

    /// The datadir of the rollup named `name`, or of the L1 for `"l1"`.
    func datadir(_ name: String) -> String { dir.appending(name) }

    /// Every process with its name: the L1 first, then the rollups in order.
    var processes: [(name: String, node: NodeProcess)] {
        [("l1", l1)] + zip(genesis.rollups, nodes).map { ($0.name, $1) }
    }

    /// SIGTERM to every node, rollups first, and waits for each to exit.
    func stop() {
        for node in nodes { node.stop() }
        l1.stop()
    }

    deinit { stop() }
}
