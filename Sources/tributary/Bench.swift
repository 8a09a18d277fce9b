import ArgumentParser

/// `tributary bench …`: measurements printed next to this machine's own limits.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run benchmarks; each prints medians next to baselines measured in the same run.",
        discussion: "Build with `swift build -c release` first: debug builds are many times slower.",
        subcommands: [BenchStorage.self, BenchNode.self]
    )
}
