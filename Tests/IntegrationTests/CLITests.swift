import Config
import Foundation
import Primitives
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

    /// Regression: the process helper's start-up wait blocked on a read, so its deadline could not
    /// fire while a daemon printed nothing. A silent process now fails at the deadline and is reaped.
    @Test func aSilentDaemonFailsItsStartUpAtTheDeadlineAndIsStopped() throws {
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/bin/sleep")
        silent.arguments = ["600"]
        let error = #expect(throws: NodeProcess.NodeProcessError.self) {
            _ = try NodeProcess(process: silent, timeout: 1)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("printed no RPC address within 1.0 seconds"))
        #expect(!silent.isRunning)
    }

    @Test func versionPrintsTheReleaseName() throws {
        let result = try TributaryBinary.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("tributary 0."))
    }

    /// The shipped binary carries the launcher its benchmarks use (`Devnet`) but none of the test
    /// support (`TributaryTesting`), while the fault suite, a test harness, does: symbols of a Swift
    /// module carry its name, length-prefixed, in their mangling.
    @Test func theShippedBinaryDoesNotLinkTheTestSupport() throws {
        func symbols(_ path: String) throws -> String { try Command.run("nm", [path]).output }
        let shipped = try symbols(TributaryBinary.path)
        #expect(shipped.contains("6Devnet"))
        #expect(!shipped.contains("16TributaryTesting"))
        #expect(try symbols(TributaryBinary.faultSuitePath).contains("16TributaryTesting"))
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

    @Test func clientCommandsPrintTheirSummaries() async throws {
        let dir = try TemporaryDirectory("cli")
        let node = try startAlpha(dir)
        defer { node.stop() }
        let sent = try TributaryBinary.run([
            "tx", "transfer", "--rpc", node.url, "--from", "dev0", "--to", "dev1", "--asset", "ALPHA", "--amount",
            "100", "--wait",
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        let lines = sent.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("transaction: 0x") == true)
        #expect(lines.contains("status: success"))
        // No --fee: the CLI pays the node's price, 1 per byte of the 154-byte signed transfer.
        #expect(lines.contains("feePaid: 154"), "\(lines)")
        let account = try TributaryBinary.run(["account", "dev1", "--rpc", node.url])
        #expect(account.output.contains("balances: ALPHA=1000000000100"), "\(account.output)")
        #expect(account.output.contains("address: \(DevKeys.account(1).address.hex)"))
        let block = try TributaryBinary.run(["block", "latest", "--rpc", node.url, "--json"])
        let json = try JSONValue.parse(Data(block.stdout))
        #expect(json["height"]?.unsignedValue ?? 0 >= 1)
        let badKey = try TributaryBinary.run([
            "tx", "transfer", "--rpc", node.url, "--from", "alice", "--to", "dev1", "--asset", "ALPHA", "--amount", "1",
        ])
        #expect(badKey.status != 0)
        #expect(badKey.stderr.contains("neither a dev account"))
    }

    @Test func daemonsAndGenesisCommandsExplainBadInput() throws {
        let rollups = try TributaryBinary.run(["genesis", "rollups", "--genesis", devnetGenesis])
        #expect(rollups.output.split(separator: "\n").first == "alpha 1 http://127.0.0.1:9545 ALPHA")
        let dir = try TemporaryDirectory("cli")
        let unknown = try TributaryBinary.run([
            "node", "--genesis", devnetGenesis, "--rollup", "delta", "--datadir", dir.path,
        ])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no rollup \"delta\" (it has: alpha, beta, gamma)"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir.appending("bad.json")))
        let bad = try TributaryBinary.run(["genesis", "rollups", "--genesis", dir.appending("bad.json")])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("$.l1: is required"))
    }

    @Test func badBenchArgumentsFailWithAClearMessage() throws {
        let result = try TributaryBinary.run(["bench", "storage", "--repetitions", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("must be positive"))
        let unknown = try TributaryBinary.run(["frobnicate"])
        #expect(unknown.status != 0)
    }
}
