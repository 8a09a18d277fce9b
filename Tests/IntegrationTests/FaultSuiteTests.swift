import Foundation
import Testing
import TributaryTesting

/// The fault suite's checks can fail: run against a sequencer that lies about its state root
/// (the suite's negative control), it must report violations and exit 1. `Scripts/test` runs the
/// suite itself (`Scripts/faults --quick`) against an honest devnet after the integration tests.
@Suite(.serialized) struct FaultSuiteTests {
    var suitePath: String { TributaryBinary.faultSuitePath }

    @Test func theChecksCatchALyingSequencer() throws {
        let dir = try TemporaryDirectory("faults-control")
        let result = try Command.run(
            suitePath, ["--only", "crashes", "--crashes", "0", "--lie-from", "20", "--workdir", dir.appending("net")])
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(result.status == 1, "the suite passed a lying sequencer: \(result.output.suffix(1500))")
        let summary = try #require(lines.last)
        let fields = Dictionary(
            uniqueKeysWithValues: summary.split(separator: " ").compactMap { part -> (String, Int)? in
                let kv = part.split(separator: "=")
                guard kv.count == 2, let n = Int(kv[1]) else { return nil }
                return (String(kv[0]), n)
            })
        #expect(summary.hasPrefix("faults: injected="), "\(summary)")
        #expect((fields["violations"] ?? 0) > 0, "\(summary)")
        #expect((fields["checked"] ?? 0) > fields["violations"] ?? 0, "\(summary)")
        // The follower derives the honest chain, and the sequencer's own store does not re-execute.
        #expect(lines.contains { $0.contains("VIOLATION: alpha-follower derived block") })
        #expect(lines.contains { $0.contains("VIOLATION: db verify alpha failed") })
        // The honest rollup is not accused.
        #expect(!lines.contains { $0.contains("VIOLATION: beta") || $0.contains("VIOLATION: db verify beta") })
    }

    @Test func unknownPhasesAreRefused() throws {
        let result = try Command.run(suitePath, ["--only", "crashes,floods"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("unknown phase \"floods\""), "\(result.stderr)")
    }
}
