import ArgumentParser
import Benchmarks
import Foundation

/// `tributary bench load`.
struct BenchLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract:
            "Run a devnet under sustained mixed load (transfers and messages on every rollup) for a fixed time.",
        discussion: """
            Starts an L1 and N rollup nodes as child processes on free ports, offers each rollup a steady \
            open-loop load from several dev accounts (transfers, and messages around a ring: rollup i → i + 1), \
            then waits for every inclusion and relay. Reports throughput and p50/p99 inclusion latency per rollup, \
            message latency, RSS and CPU per process, store growth per 1,000 transactions, and errors. Exits \
            non-zero when any submission was refused, any transaction is missing or failed, any message was not \
            relayed, or any process exited. Run a release build.
            """)

    @Option(help: "Seconds of load.")
    var duration = 60.0

    @Option(help: "Rollups (and rollup nodes); at least 2 unless --message-share is 0.")
    var rollups = 3

    @Option(help: "Transactions per second offered to each rollup.")
    var rate = 200.0

    @Option(help: "Percent of the transactions that are cross-rollup messages.")
    var messageShare = 5.0

    @Option(help: "Dev accounts submitting on each rollup (one task each).")
    var accounts = 8

    @Option(help: "Rollup block time, ms.")
    var blockTimeMs = 100

    @Option(help: "L1 block time, ms.")
    var l1BlockTimeMs = 250

    @Option(help: "Fraud-proof window, L1 blocks.")
    var windowBlocks = 8

    @Option(help: "Seconds the drain after the load may take before what is missing counts as errors.")
    var drainTimeout = 120.0

    @OptionGroup var output: BenchOutput

    func validate() throws {
        guard duration > 0, rate > 0, drainTimeout > 0 else {
            throw ValidationError("--duration, --rate and --drain-timeout must be positive")
        }
        guard (1...64).contains(rollups), rollups >= 2 || messageShare == 0 else {
            throw ValidationError("--rollups must be 2-64 (1 only with --message-share 0)")
        }
        guard (0...100).contains(messageShare) else { throw ValidationError("--message-share must be 0-100") }
        guard (2...1000).contains(accounts) else { throw ValidationError("--accounts must be 2-1000") }
        guard blockTimeMs >= 10, l1BlockTimeMs >= 10, windowBlocks > 0 else {
            throw ValidationError("--block-time-ms and --l1-block-time-ms must be ≥ 10, --window-blocks positive")
        }
    }

    func run() async throws {
        var config = LoadBenchmark.Config()
        config.durationSeconds = duration
        config.rollups = rollups
        config.ratePerRollup = rate
        config.messageSharePercent = messageShare
        config.accountsPerRollup = accounts
        config.rollupBlockTimeMs = blockTimeMs
        config.l1BlockTimeMs = l1BlockTimeMs
        config.windowBlocks = windowBlocks
        config.drainTimeoutSeconds = drainTimeout
        let report = try await LoadBenchmark(config: config, progress: output.progress).run()
        try output.print(report.figures)
        guard report.errors == 0 else {
            let lines = ["bench load: \(report.errors) errors"] + report.problems.map { "  \($0)" }
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            throw ExitCode.failure
        }
    }
}
