import ArgumentParser

/// The version printed by `tributary --version`.
let tributaryVersion = "0.1.0"

/// The one Tributary executable: daemons, operator tools, client and benchmarks as subcommands.
@main
struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "A persistent multi-rollup ledger node: L1, rollup nodes, operator tools and benchmarks.",
        version: "tributary \(tributaryVersion)",
        subcommands: [
            L1Command.self, NodeCommand.self, StatusCommand.self, OutputsCommand.self, TxCommand.self, MsgCommand.self,
            EscrowCommand.self,
            AccountCommand.self,
            BlockCommand.self, KeysCommand.self,
            GenesisCommand.self, DBCommand.self, SnapshotCommand.self, ReplayCommand.self, Bench.self,
        ]
    )
}
