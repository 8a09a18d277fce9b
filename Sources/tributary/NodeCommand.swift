import ArgumentParser
import Chain
import Config
import Foundation
import Node
import L1Chain

/// `tributary node`: runs a rollup node (sequencer) or a follower of one.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract:
            "Run a rollup node: a sequencer (--rollup NAME) or a verifier that follows one from the L1 (--follow NAME).",
        discussion: """
            A sequencer syncs what the L1 already holds of its rollup, then runs the mempool, the sequencer, the \
            batcher (zstd batches posted as blobs) and the proposer (an output every outputIntervalBlocks blocks, \
            and sooner once a block that sent a message is in DA).
            A follower builds the rollup's chain from the L1's blobs alone, checks every claimed root, challenges \
            false outputs within the fraud-proof window, and proposes honest outputs when the L1 lets anyone propose.
            SIGTERM or SIGINT stops it gracefully: the RPC server closes and the block in flight is committed.
            --fault KIND@H[,KIND@H…] is a TESTING KNOB: the sequencer tells lies from the catalog from height H on \
            (docs/reliability.md, "The catalog of lies"), so followers and the L1 can be watched defeating them. \
            Kinds: state-root, outbox-root, receipts-root, parent-break, origin-regression, invalid-tx, undecodable, \
            batch-version, absurd-heights, withhold, non-adopting-output, silent (state-root-at=H still means \
            state-root@H).
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

    @Option(
        help:
            "Testing knob: KIND@H[,KIND@H…] makes the sequencer lie from height H on (docs/reliability.md: the catalog of lies)."
    )
    var fault: String?

    func validate() throws {
        guard (rollup == nil) != (follow == nil) else {
            throw ValidationError(
                "give exactly one of --rollup NAME (sequence it) or --follow NAME (verify it from the L1)")
        }
        if fault != nil, follow != nil { throw ValidationError("--fault applies to a sequencer, not to --follow") }
        _ = try lies()
    }

    func lies() throws -> Lies {
        guard let fault else { return Lies() }
        do { return try Lies(parsing: fault) } catch { throw ValidationError("--fault: \(error)") }
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
        node.connectionLimits = daemon.connectionLimits(logger: logger)
        // A follower does not take the sequencer's port by default.
        node.rpcPort = daemon.rpcPort ?? (follow == nil ? URL(string: parameters.rpc)?.port ?? 9545 : 0)
        node.follow = follow != nil
        node.standalone = standalone
        node.autoRelay = !noRelay
        node.lies = try lies()
        if let l1 { node.l1URL = l1 }
        try await daemon.runDaemon(kind: follow == nil ? "rollup node" : "follower", logger: logger) {
            try await node.run(logger: logger) { url in
                // Scripts and tests read this line to learn the bound address (also with --rpc-port 0).
                FileHandle.standardOutput.write(Data("rpc: \(url)\n".utf8))
            }
        }
    }
}
