@_exported import Config
@_exported import Devnet

// Test support, never linked into `tributary`: what the tests and the fault suite share beyond the
// launcher (`Devnet`, which the benchmarks ship with).

extension GenesisBuilder {
    /// The small genesis of the in-process tests: slow blocks nobody waits for, four dev accounts
    /// with small balances, small batches and a bond of 5; the ports are placeholders.
    public static func small(rollups: Int) -> GenesisBuilder {
        var builder = GenesisBuilder(rollups: rollups, basePort: 2, l1Port: 1)
        builder.l1.bond = 5
        builder.l1.proposerSilenceBlocks = 10
        builder.eachRollup {
            $0.blockTimeMs = 200
            $0.maxBlockTransactions = 1000
            $0.batchMaxBytes = 65_536
            $0.batchMaxBlocks = 10
            $0.batchMaxAgeMs = 1000
            $0.supply = 1_000_000_000_000
            $0.devAccounts = 4
            $0.devAccountBalance = 1_000_000
        }
        return builder
    }

    /// The genesis, parsed (validated as every built genesis is).
    public func parsed() throws -> Genesis { try Genesis.parse(try data()) }
}
