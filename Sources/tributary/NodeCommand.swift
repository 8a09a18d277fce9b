import ArgumentParser
import Config
import Foundation
import Node

/// `tributary node`: runs a rollup node (sequencer) or a follower of one.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract:
            "Run a rollup node: a sequencer (--rollup NAME) or a verifier that follows one from the L1 (--follow NAME).",
        discussion: """
            A sequencer syncs what the L1 already holds of its rollup, then runs the mempool, the sequencer, the \
            batcher (zstd batches posted as blobs) and the proposer (outputs every outputIntervalBlocks blocks).
            A follower builds the rollup's chain from the L1's blobs alone, checks every claimed root, challenges \
            false outputs within the fraud-proof window, and proposes honest outputs when the L1 lets anyone propose.
            SIGTERM or SIGINT stops it gracefully: the RPC server closes and the block in flight is committed.
            --fault state-root-at=H is a TESTING KNOB: the sequencer claims a wrong state root from height H on, so \
            followers can be watched catching it.
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(help: "The rollup to sequence, by name (e.g. alpha).")
    var rollup: String?

    @Option(help: "The rollup to follow from the L1, by name; the node takes no transactions.")
    var follow: String?

    @Option(help: "The L1 node's JSON-RPC URL (default: the genesis's).")
    var l1: String?

    @Flag(help: "Run without an L1: no sync, batches or outputs.")
    var standalone = false

    @Flag(help: "Do not relay the messages other rollups send to this one (anyone can still relay by hand).")
    var noRelay = false

    @Option(help: "Testing knob: state-root-at=H makes the sequencer claim a wrong state root from height H on.")
    var fault: String?

    func validate() throws {
        guard (rollup == nil) != (follow == nil) else {
            throw ValidationError(
                "give exactly one of --rollup NAME (sequence it) or --follow NAME (verify it from the L1)")
        }
        if fault != nil, follow != nil { throw ValidationError("--fault applies to a sequencer, not to --follow") }
        _ = try faultHeight()
    }

    func faultHeight() throws -> UInt64? {
        guard let fault else { return nil }
        let parts = fault.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0] == "state-root-at", let h = UInt64(parts[1]), h >= 1 else {
            throw ValidationError("--fault must be state-root-at=H with a height H >= 1, got \"\(fault)\"")
        }
        return h
    }

    func run() async throws {
        let genesis: Genesis
        do { genesis = try Genesis.load(path: daemon.genesis) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        let name = rollup ?? follow!
        guard let parameters = genesis.rollup(named: name) else {
            throw ValidationError(
                "genesis \(daemon.genesis) has no rollup \"\(name)\" (it has: \(genesis.rollups.map(\.name).joined(separator: ", ")))"
            )
        }
        let logger = daemon.bootstrapLogging(label: "tributary.\(follow == nil ? "node" : "follower").\(name)")
        var node = RollupNode(genesis: genesis, rollup: parameters, datadir: daemon.datadir)
        node.storage = try daemon.storageOptions()
        node.rpcHost = daemon.rpcHost
        // A follower does not take the sequencer's port by default.
        node.rpcPort = daemon.rpcPort ?? (follow == nil ? URL(string: parameters.rpc)?.port ?? 9545 : 0)
        node.follow = follow != nil
        node.standalone = standalone
        node.autoRelay = !noRelay
        node.faultStateRootFrom = try faultHeight()
        if let l1 { node.l1URL = l1 }
        try await daemon.runDaemon(kind: follow == nil ? "rollup node" : "follower", logger: logger) {
            try await node.run(logger: logger) { url in
                // Scripts and tests read this line to learn the bound address (also with --rpc-port 0).
                FileHandle.standardOutput.write(Data("rpc: \(url)\n".utf8))
            }
        }
    }
}
