import Foundation
import Testing
import TributaryTesting

/// The `tributary` executable, run as a real process.
@Suite struct CLITests {
    struct Figure: Decodable {
        let section: String
        let name: String
        let median: Double
        let unit: String
        let samples: [Double]
    }

    @Test func versionPrintsTheReleaseName() throws {
        let result = try TributaryBinary.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("tributary 0."))
    }

    @Test func benchStorageReportsEveryFigureWithItsBaseline() throws {
        let result = try TributaryBinary.run([
            "bench", "storage", "--lmdb-keys", "3000", "--tree-keys", "4000", "--block-sizes", "100", "500",
            "--repetitions", "1", "--corpus-bytes", "200000", "--zstd-levels", "1", "3", "--json", "--quiet",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try JSONDecoder().decode([Figure].self, from: Data(result.stdout))
        let names = Set(figures.map { "\($0.section)/\($0.name)" })
        for expected in [
            "lmdb/raw C API puts", "lmdb/Storage layer puts", "tree/SHA-256 of 65-byte inputs (limit)",
            "tree/100-update block, compute", "tree/500-update block latency", "zstd/level 1 compress",
            "zstd/level 3 decompress", "zstd/zstd CLI -b3 compress (limit)",
        ] {
            #expect(names.contains(expected), "missing \(expected) in \(names.sorted())")
        }
        for figure in figures {
            #expect(figure.median > 0, "\(figure.section)/\(figure.name)")
            #expect(figure.samples.count == 1)
        }
    }

    @Test func badBenchArgumentsFailWithAClearMessage() throws {
        let result = try TributaryBinary.run(["bench", "storage", "--repetitions", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("must be positive"))
        let unknown = try TributaryBinary.run(["frobnicate"])
        #expect(unknown.status != 0)
    }
}
