import API
import ArgumentParser
import Config
import Foundation
import L1
import L1Chain
import Node
import Primitives
import RPC

/// `tributary l1 …`: the L1 node and its client.
struct L1Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l1", abstract: "Run the L1 node (the default) or ask it for its status.",
        subcommands: [L1RunCommand.self, L1StatusCommand.self], defaultSubcommand: L1RunCommand.self)
}

/// `tributary l1 [run]`.
struct L1RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the L1 node: blocks every blockTimeMs, DA blobs, outputs, fraud-proof windows and disputes.",
        discussion: "SIGTERM or SIGINT stops it gracefully: transactions already submitted go into one last block.")

    @OptionGroup var daemon: DaemonOptions

    @Option(
        help:
            "The most bytes of JSON one HTTP request (a whole batch) may make the L1 serialise; calls over it get error -32040."
    )
    var maxResponseBytes = 64 << 20

    func validate() throws {
        guard maxResponseBytes >= 1 << 20 else { throw ValidationError("--max-response-bytes must be at least 1 MiB") }
    }

    func run() async throws {
        let genesis: Genesis
        do { genesis = try Genesis.load(path: daemon.genesis) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        let logger = daemon.bootstrapLogging(label: "tributary.l1")
        NodeMetrics.bootstrap()
        var node = L1Node(genesis: genesis, datadir: daemon.datadir)
        node.storage = try daemon.storageOptions()
        node.rpcHost = daemon.rpcHost
        node.connectionLimits = daemon.connectionLimits(logger: logger)
        node.maxResponseBytes = maxResponseBytes
        node.rpcPort = daemon.rpcPort ?? URL(string: genesis.l1.rpc)?.port ?? 8545
        try await daemon.runDaemon(kind: "L1 node", logger: logger) {
            try await node.run(logger: logger, metrics: { NodeMetrics.registry.emitToBuffer() }) { url in
                FileHandle.standardOutput.write(Data("rpc: \(url)\n".utf8))
            }
        }
    }
}

/// Where client commands find the L1: `--l1`, else the genesis's address.
struct L1Options: ParsableArguments {
    @Option(help: "The L1 node's JSON-RPC URL (default: the genesis's l1.rpc).")
    var l1: String?

    @Option(help: "The genesis file (for the default L1 address and rollup names).")
    var genesis = "Genesis/devnet.json"

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func url() throws -> String {
        if let l1 { return l1 }
        return try loadGenesis().l1.rpc
    }

    func loadGenesis() throws -> Genesis {
        do { return try Genesis.load(path: genesis) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }

    func print(_ value: JSONValue, human: () -> String) throws { try printResult(value, json: json, human: human) }
}

/// `tributary l1 status`.
struct L1StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The L1's head, parameters and, per rollup, DA and output progress.")

    @OptionGroup var options: L1Options

    func run() async throws {
        let status = try await L1Client(url: try options.url()).status()
        try options.print(status.json) {
            var lines = [
                "L1 height \(status.height)  hash \(status.hash)",
                "block time \(status.blockTimeMs) ms  fraud window \(status.fraudWindowBlocks) blocks  bond \(status.bond)",
                "",
            ]
            var rows = [
                ["rollup", "id", "blobs", "DA height", "outputs", "latest", "finalized", "invalidated", "proposing"]
            ]
            for r in status.rollups {
                rows.append(
                    [
                        r.name, "\(r.id.rawValue)", "\(r.nextSeq)", "\(r.daHeight)", "\(r.outputCount)",
                        "\(r.latestOutputHeight)", "\(r.finalizedHeight)", "\(r.invalidatedOutputs)",
                        r.permissionless ? "permissionless" : "registered",
                    ])
            }
            lines.append(table(rows))
            return lines.joined(separator: "\n")
        }
    }
}

/// `tributary outputs --rollup alpha`.
struct OutputsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outputs",
        abstract: "A rollup's outputs on the L1: index, L2 height, status and L1 blocks left in the fraud-proof window."
    )

    @OptionGroup var options: L1Options

    @Option(help: "The rollup, by name or id.")
    var rollup: String

    func run() async throws {
        let selector: RollupSelector = UInt32(rollup).map { .id(RollupID($0)) } ?? .name(rollup)
        let outputs = try await L1Client(url: try options.url()).outputs(rollup: selector, from: 0, limit: nil)
        try options.print(outputs.json) {
            var rows = [["index", "L2 height", "status", "blocks left", "window ends", "output root"]]
            for o in outputs {
                rows.append(
                    [
                        "\(o.index)", "\(o.output.l2Height)", o.status.rawValue, "\(o.blocksLeft)", "\(o.windowEnd)",
                        "\(o.output.root)",
                    ])
            }
            return rows.count == 1 ? "no outputs yet" : table(rows)
        }
    }
}

/// Left-aligned columns.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = first.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
