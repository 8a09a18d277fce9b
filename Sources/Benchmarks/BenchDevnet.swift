import Config
import Devnet
import Foundation
import Primitives

/// The devnet of the benchmarks that need one (`bench messages`, `bench load`): the one launcher
/// (`LocalDevnet`) over a genesis of fast blocks and short windows, every node logging warnings only.
enum BenchDevnet {
    struct Config: Sendable {
        var rollups = 2
        var l1BlockTimeMs = 250
        var windowBlocks = 8
        var rollupBlockTimeMs = 100
        var outputIntervalBlocks = 5
        var maxBlockTransactions = 5000
        var devAccounts = 10
    }

    static func genesis(_ config: Config) -> GenesisBuilder {
        var builder = GenesisBuilder(rollups: config.rollups)
        builder.l1.blockTimeMs = config.l1BlockTimeMs
        builder.l1.fraudWindowBlocks = config.windowBlocks
        builder.l1.bond = 1000
        builder.l1.proposerSilenceBlocks = 1000
        builder.eachRollup {
            $0.blockTimeMs = config.rollupBlockTimeMs
            $0.maxBlockTransactions = config.maxBlockTransactions
            $0.batchMaxBlocks = 50
            $0.batchMaxAgeMs = config.rollupBlockTimeMs
            $0.outputIntervalBlocks = config.outputIntervalBlocks
            $0.devAccounts = config.devAccounts
        }
        return builder
    }

    /// One rollup, "bench", whose first `accounts` dev accounts are funded: the in-process benchmarks'
    /// genesis (the ports are placeholders).
    static func singleRollup(accounts: Int, maxBlockTransactions: Int) -> GenesisBuilder {
        var builder = GenesisBuilder(rollups: 1, basePort: 2, l1Port: 1)
        builder.devSeed = nil
        builder.l1.bond = 0
        builder.l1.proposerSilenceBlocks = 10
        builder.eachRollup {
            $0.name = "bench"
            $0.nativeAsset = "BENCH"
            $0.blockTimeMs = 200
            $0.maxBlockTransactions = maxBlockTransactions
            $0.batchMaxBytes = 1_048_576
            $0.batchMaxBlocks = 10
            $0.batchMaxAgeMs = 1000
            $0.devAccounts = accounts
            $0.devAccountBalance = 1_000_000_000
        }
        return builder
    }

    /// Starts the L1 and every rollup node; throws if one does not come up.
    static func start(_ prefix: String, config: Config) throws -> LocalDevnet {
        var options = LocalDevnet.Options()
        options.logLevel = "warning"
        return try LocalDevnet(prefix, genesis: genesis(config), options: options)
    }
}

extension LocalDevnet {
    /// The rollup nodes in the genesis's order.
    var rollupNodes: [NodeProcess] { processes.dropFirst().map(\.node) }
}
