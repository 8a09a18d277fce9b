import ArgumentParser
import Benchmarks
import Foundation

/// `tributary bench …`: measurements printed next to this machine's own limits.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run benchmarks; each prints medians next to baselines measured in the same run.",
        discussion: "Build with `swift build -c release` first: debug builds are many times slower.",
        subcommands: [BenchStorage.self, BenchNode.self, BenchDA.self, BenchMessages.self, BenchLoad.self]
    )
}

/// Output options every benchmark shares.
struct BenchOutput: ParsableArguments {
    @Flag(help: "Print the figures as JSON.")
    var json = false

    @Flag(help: "Print no progress lines on standard error.")
    var quiet = false

    /// Where a benchmark reports progress: standard error, unless --quiet.
    var progress: @Sendable (String) -> Void {
        let quiet = self.quiet
        return { line in if !quiet { FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) } }
    }

    /// Prints the figures as a table, or JSON with --json.
    func print(_ figures: [Figure]) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Swift.print(String(decoding: try encoder.encode(figures), as: UTF8.self))
        } else {
            Swift.print(renderTable(figures))
        }
    }
}
