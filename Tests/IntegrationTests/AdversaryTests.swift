import Chain
import Compression
import Config
import Foundation
import Node
import Primitives
import RPC
import Settlement
import StateMachine
import StateTree
import Testing
import TributaryTesting

/// Regressions over real processes for the review's findings against the fraud-proof protocol
/// (issue 13): each lie a sequencer can tell loses, and nothing anyone sends stops the L1.
@Suite(.serialized) struct AdversaryTests {
    var suitePath: String {
        URL(fileURLWithPath: TributaryBinary.path).deletingLastPathComponent().appendingPathComponent(
            "tributary-faults"
        )
        .path
    }

    /// Findings 1–4 as rounds of the fault suite's adversary phase, each checked for: no false output
    /// finalized, no honest output invalidated, no unbacked value on alpha, an honest output
    /// finalized once the liar stopped, the L1 still sealing.
    ///
    /// * `undecodable+outbox-root` — finding 1: garbage in DA under outputs that claim a forged outbox;
    /// * `state-root+silent` — findings 2 and 4: a silent liar, the fallback's outputs (which anyone
    ///   used to take with a free output proof) finalize above the fault, then the liar's adopting
    ///   outputs have their fault at or below the anchor (only span wins);
    /// * `origin-regression+invalid-tx` — finding 3: an origin going back is a fault of the rule, junk
    ///   in a body under the honest header is none.
    @Test func everyFindingsLieLoses() throws {
        let dir = try TemporaryDirectory("adversary")
        let result = try Command.run(
            suitePath,
            [
                "--only", "adversary", "--lies", "undecodable+outbox-root,state-root+silent,origin-regression+invalid-tx",
                "--workdir", dir.appending("net"),
            ])
        let summary = result.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(result.status == 0, "\(result.output.suffix(3000))")
        #expect(summary.contains("violations=0"), "\(summary)")
        #expect(summary.contains("forged relay="), "the attacker never got a forged relay in: \(summary)")
    }

    /// Finding 3, third trigger: an honest sequencer restarted while the L1 is down used to seal
    /// blocks with L1 origin 0, which anyone's `block` proof won against, breaking the rollup for
    /// good. Its blocks now keep the parent's origin; no challenge wins and its outputs finalize.
    @Test func aSequencerRestartedWhileTheL1IsDownStaysHonest() async throws {
        let dir = try TemporaryDirectory("adversary-origin")
        let genesisPath = try fastGenesis(dir, window: 12)
        var l1Node = try startL1(dir, genesis: genesisPath)
        var alphaNode = try startRollup(dir, genesis: genesisPath, l1: l1Node.url)
        let follower = try startRollup(dir, genesis: genesisPath, l1: l1Node.url, name: "follower", follow: true)
        defer { follower.stop() }
        let l1URL = l1Node.url
        var l1 = L1Client(url: l1URL)
        #expect(try await eventually(30) { try await outputs(l1).count >= 1 })
        let first = RPCClient(url: alphaNode.url)
        let head = try #require(try await first.call("rollup_blockNumber").unsignedValue)
        let origin = try #require(try await header(first, head)["l1Origin"]?["height"]?.unsignedValue)
        #expect(origin > 0)
        // The L1 goes down; the sequencer is restarted while it is down and seals blocks.
        #expect(l1Node.stop() == 0)
        #expect(alphaNode.stop() == 0)
        alphaNode = try startRollup(dir, genesis: genesisPath, l1: l1URL)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url)
        var nonces: [Int: UInt64] = [:]
        let before = try #require(try await alpha.call("rollup_blockNumber").unsignedValue)
        _ = try await sendTransfers(alpha, count: 10, seed: 3, nonces: &nonces)
        #expect(try await eventually(20) { (try await alpha.call("rollup_blockNumber").unsignedValue ?? 0) > before + 5 })
        let sealed = try await header(alpha, try #require(try await alpha.call("rollup_blockNumber").unsignedValue))
        #expect(sealed["l1Origin"]?["height"]?.unsignedValue ?? 0 >= origin, "\(sealed)")
        // The L1 comes back on its port; everything sealed meanwhile posts, is derived and finalizes.
        let port = try #require(URL(string: l1URL)?.port)
        l1Node = try NodeProcess(
            ["l1", "--genesis", genesisPath, "--datadir", dir.appending("l1"), "--rpc-port", String(port)],
            logPath: dir.appending("l1-2.log"))
        defer { l1Node.stop() }
        l1 = L1Client(url: l1Node.url)
        let top = try #require(sealed["height"]?.unsignedValue)
        #expect(
            try await eventually(90) {
                try await outputs(l1).contains { $0.status == "finalized" && $0.output.l2Height >= top }
            })
        let all = try await outputs(l1)
        #expect(all.allSatisfy { $0.status != "invalidated" }, "\(all.map { ($0.index, $0.status) })")
        #expect(try await l1.status().rollups[1]?.brokenAt == nil)
        let follows = RPCClient(url: follower.url)
        #expect(
            try await eventually(30) {
                try await header(follows, top)["hash"]?.stringValue == (try await header(alpha, top))["hash"]?.stringValue
            })
        #expect(alphaNode.stop() == 0)
        #expect(follower.stop() == 0)
        #expect(l1Node.stop() == 0)
    }

    /// Finding 6: a batcher posts a block claiming a state whose outbox value does not decode; a
    /// `block` proof over that witness used to throw inside the L1's block production and stop the
    /// L1. It is refused with a reason, in the same block as the output, and the L1 keeps sealing.
    @Test func aChallengeOverAMalformedStateDoesNotStopTheL1() async throws {
        let dir = try TemporaryDirectory("adversary-witness")
        let genesisPath = try fastGenesis(dir, window: 100)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        let l1Node = try startL1(dir, genesis: genesisPath)
        defer { l1Node.stop() }
        let l1 = L1Client(url: l1Node.url)
        let batcher = DevKeys.key(named: alpha.batcher.name), proposer = DevKeys.key(named: alpha.proposer.name)
        // Block 1 claims a state where the outbox key holds bytes that are no outbox.
        let memory = MemoryTreeStore()
        let g = try ChainStore.genesisBlock(alpha)
        memory.apply(g.state)
        let poisoned = try StateTree(memory).update(
            base: 0, version: 1, updates: [(key: StateKey.outbox, value: Optional([0xFF, 0x01]))])
        memory.apply(poisoned)
        let empty = MerkleList.root([])
        let b1 = BlockHeader(
            rollup: alpha.id, height: 1, parent: g.block.header.hash, l1Origin: .none, timestamp: 1,
            transactionsRoot: empty, stateRoot: poisoned.rootHash, outboxRoot: .zero,
            receiptsRoot: BlockRule.receiptsRoot([]))
        let b2 = BlockHeader(
            rollup: alpha.id, height: 2, parent: b1.hash, l1Origin: .none, timestamp: 2, transactionsRoot: empty,
            stateRoot: Hash.sha256([2]), outboxRoot: .zero, receiptsRoot: BlockRule.receiptsRoot([]))
        let blocks = [Block(header: b1, transactions: []), Block(header: b2, transactions: [])]
        _ = try await l1.postBlob(
            BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: 0, firstHeight: 1, lastHeight: 2),
                frame: try BatchCodec.encode(blocks, level: 3), signedBy: batcher))
        let output = try await l1.proposeOutput(OutputProposal(output: Output(header: b2), signedBy: proposer))
        let witness = try StateTree(memory).witness(for: [StateKey.outbox], at: 1)
        let before = try await l1.status().height
        let failure = await errorCode {
            _ = try await l1.challenge(
                Challenge(
                    rollup: alpha.id, outputIndex: output.index, proof: .block(height: 2, witness: witness),
                    signedBy: proposer))
        }
        #expect(failure?.code == -32028, "\(failure?.message ?? "accepted")")
        #expect(failure?.message.contains("cannot be executed") == true, "\(failure?.message ?? "")")
        #expect(try await eventually(10) { try await l1.status().height > before + 5 })
        #expect(l1Node.stop() == 0)
    }
}
