import API
import Chain
import Compression
import Config
import Foundation
import L1Chain
import Node
import Primitives
import RPC
import Settlement
import StateMachine
import StateTree
import Testing
import TributaryTesting

/// Regressions over real processes for the review's findings against the fraud-proof protocol
/// (issue 13): each lie a sequencer can tell loses, and nothing anyone sends stops the L1. Findings
/// 1–4 are the first rounds of the fault suite's adversary phase (`Run.findings`), which
/// `Scripts/test` runs in `Scripts/faults --quick`; `unknownLiesAreRefused` checks its plan option.
@Suite(.serialized) struct AdversaryTests {
    var suitePath: String { TributaryBinary.faultSuitePath }

    @Test func unknownLiesAreRefused() throws {
        let suite = try Command.run(suitePath, ["--only", "adversary", "--lies", "state-root+fibs"])
        #expect(suite.status != 0)
        #expect(suite.stderr.contains("unknown lie \"fibs\""), "\(suite.stderr)")
        let node = try TributaryBinary.run(["node", "--genesis", "Genesis/devnet.json", "--rollup", "alpha", "--datadir", "/nonexistent/tributary", "--fault", "fibs@3"])
        #expect(node.status != 0)
        #expect(node.stderr.contains("unknown lie \"fibs@3\""), "\(node.stderr)")
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
        let head = try #require(try await first.call(RollupMethod.blockNumber).unsignedValue)
        let origin = try #require(try await header(first, head)["l1Origin"]?["height"]?.unsignedValue)
        #expect(origin > 0)
        // The L1 goes down; the sequencer is restarted while it is down and seals blocks.
        #expect(l1Node.stop() == 0)
        #expect(alphaNode.stop() == 0)
        alphaNode = try startRollup(dir, genesis: genesisPath, l1: l1URL)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url)
        var nonces: [Int: UInt64] = [:]
        let before = try #require(try await alpha.call(RollupMethod.blockNumber).unsignedValue)
        _ = try await sendTransfers(alpha, count: 10, seed: 3, nonces: &nonces)
        #expect(try await eventually(20) { (try await alpha.call(RollupMethod.blockNumber).unsignedValue ?? 0) > before + 5 })
        let sealed = try await header(alpha, try #require(try await alpha.call(RollupMethod.blockNumber).unsignedValue))
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
                try await outputs(l1).contains { $0.status == .finalized && $0.output.l2Height >= top }
            })
        let all = try await outputs(l1)
        #expect(all.allSatisfy { $0.status != .invalidated }, "\(all.map { ($0.index, $0.status) })")
        #expect(try await l1.status().rollup(RollupID(1))?.brokenAt == nil)
        let follows = RPCClient(url: follower.url)
        #expect(
            try await eventually(30) {
                try await header(follows, top)["hash"]?.stringValue == (try await header(alpha, top))["hash"]?.stringValue
            })
        #expect(alphaNode.stop() == 0)
        #expect(follower.stop() == 0)
        #expect(l1Node.stop() == 0)
    }

    /// Issue 22, finding 1: a block of the most maximum-size incompressible transactions it can hold
    /// is sequenced, posted, derived; a liar that packs more into a block (`oversize-block`) is
    /// proven faulty by its follower's `block` proof.
    @Test func fullBlocksOfMaximumSizeTransactionsAreSequencedAndALargerOneIsProvenFaulty() async throws {
        let dir = try TemporaryDirectory("adversary-bytes")
        let limit = 16_384
        let path = try fastGenesis(dir, window: 20, name: "genesis-bytes.json") { builder in
            builder.eachRollup { $0.extra["maxBlockBytes"] = .number(limit) }
        }
        let genesis = try Genesis.load(path: path)
        #expect(genesis.rollups.allSatisfy { $0.maxBlockBytes == UInt64(limit) })
        let l1Node = try startL1(dir, genesis: path)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: path, l1: l1Node.url)
        defer { alphaNode.stop() }
        let follower = try startRollup(dir, genesis: path, l1: l1Node.url, name: "follower", follow: true)
        defer { follower.stop() }
        func beta(_ name: String, _ args: [String]) throws -> NodeProcess {
            try NodeProcess(
                ["node", "--genesis", path, "--datadir", dir.appending(name), "--rpc-port", "0", "--l1", l1Node.url]
                    + args, logPath: dir.appending("\(name).log"))
        }
        let liar = try beta("beta", ["--rollup", "beta", "--fault", "oversize-block@1"])
        defer { liar.stop() }
        let betaFollower = try beta("beta-follower", ["--follow", "beta"])
        defer { betaFollower.stop() }
        // Relays of a message with a 1,024-byte random payload and a 64-hash random path: about 3.3 KB
        // each, incompressible; they fail when executed (no such output) but are valid transactions.
        var rng = SplitMix64(seed: 22)
        func maxSize(rollup: RollupParameters, nonce: UInt64) -> SignedTransaction {
            let message = Message(
                source: RollupID(rollup.id.rawValue == 1 ? 2 : 1), nonce: nonce, sender: DevKeys.account(3).address,
                destination: rollup.id, target: "bank", recipient: DevKeys.account(4).address, value: [],
                payload: rng.bytes(Message.maxPayload))
            let proof = OutboxProof(index: nonce, treeSize: 1 << 40, path: (0..<64).map { _ in Hash.sha256(rng.bytes(8)) })
            return Transaction(
                rollup: rollup.id, nonce: nonce, sender: DevKeys.account(0).publicKey, fee: 1_000_000,
                call: .relayMessage(message: message, proof: proof, outputIndex: 999_999)
            ).signed(by: DevKeys.account(0))
        }
        let count = 24
        for (node, rollup) in [(alphaNode, genesis.rollups[0]), (liar, genesis.rollups[1])] {
            let rpc = RPCClient(url: node.url)
            for n in 0..<count {
                let tx = maxSize(rollup: rollup, nonce: UInt64(n))
                #expect(tx.canonicalBytes.count > 3000)
                _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
            }
        }
        // Alpha: every transaction included, in blocks within the limit, posted and derived alike.
        let alpha = RPCClient(url: alphaNode.url)
        #expect(
            try await eventually(60) {
                try await alpha.call(RollupMethod.getNonce, [.string(DevKeys.account(0).address.hex)])["nonce"]?
                    .unsignedValue == UInt64(count)
            })
        let head = try #require(try await alpha.call(RollupMethod.blockNumber).unsignedValue)
        #expect(
            try await eventually(60) {
                try await header(RPCClient(url: follower.url), head)["hash"]?.stringValue
                    == (try await header(alpha, head))["hash"]?.stringValue
            })
        let store = try ChainStore.open(datadir: dir.appending("alpha"), genesis: genesis)
        var full = 0
        for h in 1...head {
            let block = try #require(try store.block(at: h))
            #expect(block.canonicalBytes.count <= limit, "block \(h) takes \(block.canonicalBytes.count) bytes")
            if block.transactions.count >= 4 { full += 1 }
        }
        #expect(full >= 4, "no block was filled to the limit")
        // Beta's liar packs them into blocks past the limit: its follower proves the first one faulty.
        let l1 = L1Client(url: l1Node.url)
        #expect(
            try await eventually(90) {
                let invalidated = try await l1.outputs(rollup: RollupID(2)).contains { $0.status == .invalidated }
                let broken = try await l1.status().rollup(RollupID(2))?.brokenAt
                return invalidated && broken != nil
            })
        let rows = try await l1.rpc.call(L1Method.getOutputs, [.number(2), .number(0), .number(1000)])
        let first = try #require(rows.arrayValue?.first { $0["status"]?.stringValue == "invalidated" })
        let challenge = try await l1.rpc.call(L1Method.getChallenge, [first["invalidatedBy"] ?? .null])
        let reason = challenge["reason"]?.stringValue ?? ""
        #expect(challenge["kind"]?.stringValue == "block", "\(challenge)")
        #expect(reason.contains("transactions root"), "\(reason)")
        #expect(try await outputs(l1).allSatisfy { $0.status != .invalidated })
        #expect(alphaNode.stop() == 0)
        #expect(follower.stop() == 0)
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
        let g = try alpha.genesisBlock()
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
        let output = try await l1.proposeOutput(OutputProposal(output: Output(header: b2), parent: .zero, signedBy: proposer))
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
