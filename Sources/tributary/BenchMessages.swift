import ArgumentParser
import Benchmarks
import Foundation

/// `tributary bench messages`.
struct BenchMessages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages",
        abstract:
            "Measure cross-rollup message latency (send → relayed) through a real devnet: window vs our overhead.",
        discussion: "Starts an L1 and two rollup nodes as child processes on free ports. Run a release build.")

    @Option(help: "Messages to send (one per L1 block).")
    var messages = 40

    @Option(help: "L1 block time, ms.")
    var l1BlockTimeMs = 250

    @Option(help: "Fraud-proof window, L1 blocks.")
    var windowBlocks = 8

    @OptionGroup var output: BenchOutput

    func validate() throws {
        guard messages > 0, l1BlockTimeMs >= 10, windowBlocks > 0 else {
            throw ValidationError("--messages, --l1-block-time-ms (≥ 10) and --window-blocks must be positive")
        }
    }

    func run() async throws {
        var config = MessageBenchmark.Config()
        config.messages = messages
        config.l1BlockTimeMs = l1BlockTimeMs
        config.windowBlocks = windowBlocks
        try output.print(try await MessageBenchmark(config: config, progress: output.progress).run())
    }
}
