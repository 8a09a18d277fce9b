import ArgumentParser
import Benchmarks
import Foundation

/// `tributary bench storage`: LMDB, state tree and zstd figures next to this machine's limits.
struct BenchStorage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Measure LMDB puts (raw C API vs our layer), state-tree block updates and zstd.",
        discussion: """
            Prints the median of --repetitions runs for every figure, next to the limits measured in \
            the same run: raw LMDB puts through the C API, SHA-256 hashes/s, and the zstd CLI's own \
            benchmark on the same corpus. Run a release build: `swift build -c release && \
            .build/release/tributary bench storage`.
            """
    )

    @Option(help: "Keys put in the LMDB comparison.")
    var lmdbKeys = 1_000_000

    @Option(help: "Keys in the state tree before the measured blocks.")
    var treeKeys = 1_000_000

    @Option(parsing: .upToNextOption, help: "Updates per measured block.")
    var blockSizes: [Int] = [1_000, 10_000]

    @Option(help: "Repetitions per figure (the median is reported).")
    var repetitions = 5

    @Option(help: "Bytes of synthetic transaction corpus for zstd.")
    var corpusBytes = 8 << 20

    @Option(parsing: .upToNextOption, help: "zstd levels to measure.")
    var zstdLevels: [Int32] = [1, 3, 19]

    @OptionGroup var output: BenchOutput

    func validate() throws {
        guard lmdbKeys > 0, treeKeys > 0, repetitions > 0, corpusBytes > 0 else {
            throw ValidationError("sizes and --repetitions must be positive")
        }
        guard blockSizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--block-sizes must be positive") }
    }

    func run() throws {
        var config = StorageBenchmark.Config()
        config.lmdbKeys = lmdbKeys
        config.treeKeys = treeKeys
        config.blockSizes = blockSizes
        config.repetitions = repetitions
        config.corpusBytes = corpusBytes
        config.zstdLevels = zstdLevels
        try output.print(try StorageBenchmark(config: config, progress: output.progress).run())
    }
}
