import Foundation
import FuzzTargets
import Testing

/// Replays the committed seed corpus and every regression input through the fuzz targets, as a
/// normal test: each input must pass the target's checks (a failure aborts the test process and
/// prints the property), and every seed must decode, so the seeds keep reaching the checks as
/// the encodings change. Seeds named `reject-*` are edge cases a decoder must refuse.
@Suite struct FuzzCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static func inputs(_ kind: String, _ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let path = directory.appendingPathComponent(kind).appendingPathComponent(target.rawValue).path
        return try FuzzTarget.inputFiles([path]).map { file in
            (URL(fileURLWithPath: file).lastPathComponent, [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everySeedDecodesAndPassesTheChecks(target: FuzzTarget) throws {
        let seeds = try Self.inputs("Corpus", target)
        #expect(seeds.count >= 4, "the \(target.rawValue) corpus has \(seeds.count) seeds")
        for seed in seeds {
            let decoded = target.run(seed.bytes)
            #expect(decoded == !seed.name.hasPrefix("reject-"), "seed \(target.rawValue)/\(seed.name)")
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyRegressionInputReplays(target: FuzzTarget) throws {
        for input in try Self.inputs("Regressions", target) { target.run(input.bytes) }
    }

    @Test func theCorpusStaysSmall() throws {
        let total = try FuzzTarget.allCases.flatMap { try Self.inputs("Corpus", $0) }.reduce(0) { $0 + $1.bytes.count }
        #expect(total < 1 << 20, "the committed corpus holds \(total) bytes")
    }
}
