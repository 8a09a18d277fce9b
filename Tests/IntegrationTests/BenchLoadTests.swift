import Foundation
import Testing
import TributaryTesting

/// `tributary bench load`, small: a real devnet of an L1 and two rollup nodes under load for 6 s.
@Suite struct BenchLoadTests {
    @Test func benchLoadIncludesEveryTransactionRelaysEveryMessageAndReportsNoErrors() throws {
        let result = try TributaryBinary.run([
            "bench", "load", "--duration", "6", "--rollups", "2", "--rate", "20", "--json", "--quiet",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try JSONDecoder().decode([CLITests.Figure].self, from: Data(result.stdout))
        func value(_ section: String, _ name: String, unit: String? = nil) -> Double {
            let figure = figures.first { $0.section == section && $0.name == name && (unit == nil || $0.unit == unit) }
            #expect(figure != nil, "missing \(section)/\(name)")
            return figure?.median ?? -1
        }
        for rollup in ["alpha", "beta"] {
            #expect(value(rollup, "submitted") > 0)
            #expect(value(rollup, "included") > 0)
            #expect(value(rollup, "included") == value(rollup, "submitted"))
            #expect(value(rollup, "throughput") > 0)
            #expect(value(rollup, "inclusion latency p50") > 0)
            #expect(value(rollup, "inclusion latency p99") >= value(rollup, "inclusion latency p50"))
        }
        for process in ["alpha", "beta", "l1"] {
            #expect(value(process, "RSS peak") > 0, "\(process)")
            #expect(value(process, "RSS end") > 0, "\(process)")
            #expect(value(process, "RSS peak") >= value(process, "RSS end"), "\(process)")
            #expect(value(process, "store growth per 1,000 tx") > 0, "\(process)")
        }
        #expect(value("messages", "sent") > 0)
        #expect(value("messages", "relayed") == value("messages", "sent"))
        #expect(value("messages", "send → relayed p50", unit: "ms") > 0)
        #expect(value("messages", "send → relayed p50", unit: "L1 blocks") > 0)
        #expect(value("errors", "total") == 0)
        for figure in figures where figure.section == "errors" {
            #expect(figure.median == 0, "\(figure.name)")
        }
    }

    @Test func benchLoadRefusesARingOfOneRollup() throws {
        let result = try TributaryBinary.run(["bench", "load", "--rollups", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--rollups must be 2-64"))
    }
}
