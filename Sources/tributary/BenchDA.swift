import ArgumentParser
import Benchmarks
import Foundation

/// `tributary bench da`.
struct BenchDA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "da",
        abstract:
            "Measure DA bytes per transfer (raw vs zstd frame), batch compression MB/s next to the zstd CLI, and fraud-proof witness sizes.",
        discussion: "Works on a temporary store; run a release build.")

    @Option(help: "Funded accounts in the state (1-1000).")
    var accounts = 1000

    @Option(help: "Repetitions per timed figure (the median is reported).")
    var repetitions = 3

    @OptionGroup var output: BenchOutput

    func validate() throws {
        guard (2...1000).contains(accounts), repetitions > 0 else {
            throw ValidationError("--accounts must be 2-1000 and --repetitions positive")
        }
    }

    func run() async throws {
        var config = DABenchmark.Config()
        config.accounts = accounts
        config.repetitions = repetitions
        try output.print(try DABenchmark(config: config, progress: output.progress).run())
    }
}
