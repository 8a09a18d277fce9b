import ArgumentParser
import Benchmarks
import Foundation

/// `tributary bench node`.
struct BenchNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract:
            "Measure signed transfers/s through a real node, execution-only transfers/s, and Ed25519 verifications/s.",
        discussion:
            "Starts `tributary node` as a child process on a temporary datadir and a free port. Run a release build.")

    @Option(help: "Funded senders.")
    var senders = 100

    @Option(help: "Transfers per sender.")
    var transfersPerSender = 200

    @Option(help: "Transactions per JSON-RPC batch request.")
    var batchSize = 50

    @Option(help: "Batch requests in flight.")
    var concurrency = 8

    @Option(help: "Repetitions per figure (the median is reported).")
    var repetitions = 3

    @OptionGroup var output: BenchOutput

    func validate() throws {
        guard senders > 1, transfersPerSender > 0, batchSize > 0, concurrency > 0, repetitions > 0 else {
            throw ValidationError("--senders must be at least 2 and every other size positive")
        }
        guard transfersPerSender <= 1024 else {
            throw ValidationError("--transfers-per-sender must be at most 1024 (the mempool's per-sender cap)")
        }
    }

    func run() async throws {
        var config = NodeBenchmark.Config()
        config.senders = senders
        config.transfersPerSender = transfersPerSender
        config.batchSize = batchSize
        config.concurrency = concurrency
        config.repetitions = repetitions
        try output.print(try await NodeBenchmark(config: config, progress: output.progress).run())
    }
}
