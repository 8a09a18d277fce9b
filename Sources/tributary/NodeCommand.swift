import ArgumentParser
import Config
import Foundation
import Node

/// `tributary node`: runs a rollup node.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a rollup node: sequencer, mempool and JSON-RPC over an LMDB store.",
        discussion: "SIGTERM or SIGINT stops it gracefully: the RPC server closes and the block in flight is committed."
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(help: "The rollup to run, by name (e.g. alpha).")
    var rollup: String

    func run() async throws {
        let genesis: Genesis
        do { genesis = try Genesis.load(path: daemon.genesis) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        guard let parameters = genesis.rollup(named: rollup) else {
            throw ValidationError(
                "genesis \(daemon.genesis) has no rollup \"\(rollup)\" (it has: \(genesis.rollups.map(\.name).joined(separator: ", ")))"
            )
        }
        let logger = daemon.bootstrapLogging(label: "tributary.node.\(rollup)")
        var node = RollupNode(genesis: genesis, rollup: parameters, datadir: daemon.datadir)
        node.rpcHost = daemon.rpcHost
        node.rpcPort = daemon.rpcPort ?? URL(string: parameters.rpc)?.port ?? 9545
        try await node.run(logger: logger) { url in
            // Scripts and tests read this line to learn the bound address (also with --rpc-port 0).
            FileHandle.standardOutput.write(Data("rpc: \(url)\n".utf8))
        }
    }
}
