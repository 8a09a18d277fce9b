import Foundation
import Testing
import TributaryTesting

/// `Scripts/devnet`, run as a person would, with the debug binary (TRIBUTARY_BIN) and a devnet
/// directory of its own (DEVNET_DIR) on ports no default devnet uses.
@Suite(.serialized) struct DevnetTests {
    let script = repositoryRoot.appendingPathComponent("Scripts/devnet").path

    func devnet(_ dir: TemporaryDirectory, _ arguments: [String]) throws -> CommandResult {
        try Command.run("env", ["DEVNET_DIR=\(dir.path)", "TRIBUTARY_BIN=\(TributaryBinary.path)", script] + arguments)
    }

    func nodesRunning(in dir: TemporaryDirectory) throws -> Bool {
        try Command.run("pgrep", ["-f", "--datadir \(dir.path)"]).status == 0
    }

    @Test func upStatusTransferDownAndResetAsAPersonWould() throws {
        let dir = try TemporaryDirectory("devnet")
        defer { _ = try? devnet(dir, ["down"]) }
        let up = try devnet(
            dir,
            [
                "up", "--rollups", "2", "--base-port", "19545", "--l1-port", "18545", "--block-time-ms", "100",
                "--l1-block-time-ms", "200", "--fraud-window-blocks", "5", "--output-interval-blocks", "5",
            ])
        #expect(up.status == 0, "\(up.stderr)")
        for expected in [
            "Tributary devnet is up", "alpha", "beta", "http://127.0.0.1:19545", "http://127.0.0.1:19546", "INSECURE",
            "dev9", "http://127.0.0.1:18545", "fraud-proof window",
        ] {
            #expect(up.output.contains(expected), "up did not print \(expected): \(up.output)")
        }
        let status = try devnet(dir, ["status"])
        let lines = status.output.split(separator: "\n")
        // One line per process, then the L1's view of each rollup.
        #expect(lines.count == 6, "\(status.output)")
        #expect(lines.prefix(3).map { $0.split(separator: " ").first ?? "" } == ["l1", "alpha", "beta"])
        #expect(lines.prefix(3).allSatisfy { $0.contains(" up ") })
        #expect(lines.dropFirst(3).first?.contains("finalized") == true)
        let sent = try TributaryBinary.run([
            "tx", "transfer", "--rpc", "http://127.0.0.1:19546", "--from", "dev2", "--to", "dev3", "--asset", "BETA",
            "--amount", "7", "--wait",
        ])
        #expect(sent.output.contains("status: success"), "\(sent.stderr)")
        // The demo, right after up.
        let demo = try Command.run(
            "env",
            [
                "DEVNET_DIR=\(dir.path)", "TRIBUTARY_BIN=\(TributaryBinary.path)",
                repositoryRoot.appendingPathComponent("Scripts/demo").path,
            ])
        #expect(demo.status == 0, "\(demo.output)\n\(demo.stderr)")
        for step in [
            "== 1. A transfer on alpha", "status: success", "== 2. A cross-rollup call", "in output", "relayed",
            "== 3. An atomic swap", "swap complete", "== 4. Balances on every chain", "alpha/ALPHA=35",
        ] {
            #expect(demo.output.contains(step), "the demo did not print \(step)")
        }
        let again = try devnet(dir, ["up"])
        #expect(again.status == 0)
        #expect(again.output.contains("beta is already running"))
        let logs = try devnet(dir, ["logs", "beta"])
        #expect(logs.output.contains("rpc listening"))
        let down = try devnet(dir, ["down"])
        #expect(down.status == 0)
        #expect(try !nodesRunning(in: dir), "a node outlived down")
        #expect(try devnet(dir, ["status"]).output.split(separator: "\n").allSatisfy { $0.hasSuffix(" down") })
        #expect(try devnet(dir, ["reset"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    /// Eight rollups: up, a message between two of them, status, down.
    @Test func eightRollupsPassMessages() throws {
        let dir = try TemporaryDirectory("devnet8")
        defer { _ = try? devnet(dir, ["down"]) }
        let up = try devnet(
            dir,
            [
                "up", "--rollups", "8", "--base-port", "19645", "--l1-port", "18645", "--block-time-ms", "100",
                "--l1-block-time-ms", "200", "--fraud-window-blocks", "5", "--output-interval-blocks", "5",
            ])
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.output.contains("theta") && up.output.contains("http://127.0.0.1:19652"))
        let sent = try TributaryBinary.run([
            "msg", "send", "--genesis", dir.appending("genesis.json"), "--rpc", "http://127.0.0.1:19645", "--from",
            "dev0",
            "--to", "theta:dev1", "--value", "9:ALPHA", "--wait", "--timeout", "120",
        ])
        #expect(sent.status == 0, "\(sent.output) \(sent.stderr)")
        #expect(sent.output.contains("relayed"))
        let account = try TributaryBinary.run([
            "account", "dev1", "--rpc", "http://127.0.0.1:19652", "--assets", "alpha/ALPHA",
        ])
        #expect(account.output.contains("alpha/ALPHA=9"), "\(account.output)")
        let status = try devnet(dir, ["status"])
        let lines = status.output.split(separator: "\n")
        #expect(lines.prefix(9).allSatisfy { $0.contains(" up ") }, "\(status.output)")
        #expect(lines.dropFirst(1).prefix(8).allSatisfy { $0.contains("finalized=") && $0.contains("l1-lag=") })
        #expect(try devnet(dir, ["down"]).status == 0)
        #expect(try !nodesRunning(in: dir), "a node outlived down")
    }

    @Test func helpAndMistakesAnswerClearly() throws {
        let dir = try TemporaryDirectory("devnet")
        let help = try devnet(dir, ["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("Usage: Scripts/devnet COMMAND"))
        let unknown = try devnet(dir, ["frobnicate"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown command 'frobnicate'"))
        let badOption = try devnet(dir, ["up", "--colour", "blue"])
        #expect(badOption.status != 0)
        #expect(badOption.stderr.contains("unknown option '--colour'"))
        let tooMany = try devnet(dir, ["up", "--rollups", "99", "--base-port", "19600"])
        #expect(tooMany.status != 0)
        #expect(tooMany.stderr.contains("--rollups must be 1-64"))
        #expect(try !nodesRunning(in: dir))
    }
}
