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
import StateTree
import Testing
import TributaryTesting

/// The JSON-RPC error code of `body`'s failure, or nil when it succeeds.
func errorCode(_ body: () async throws -> Void) async -> (code: Int, message: String)? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return (error.code, error.message)
    } catch {
        return (0, "\(error)")
    }
}

func hex(_ value: some CanonicalEncodable) -> JSONValue { .string("0x" + Hex.encode(value.canonicalBytes)) }

@Suite(.serialized) struct L1AttackTests {
    /// Forged challenges lose, say why, and change nothing but the challenger's forfeited bond: a
    /// challenge against a correct block, wrong and incomplete witnesses, proofs of the other kinds
    /// against a correct output. A bad signature, an unknown output, and a challenge after the window
    /// are refused before any work and cost nothing.
    @Test func forgedChallengesLose() async throws {
        let dir = try TemporaryDirectory("l1-forged")
        // A long window (15 s) keeps the target pending on a slow, busy machine.
        let genesisPath = try fastGenesis(dir, window: 100)
        let genesis = try Genesis.load(path: genesisPath)
        let l1Node = try startL1(dir, genesis: genesisPath)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesisPath, l1: l1Node.url)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url), l1 = L1Client(url: l1Node.url)
        var nonces: [Int: UInt64] = [:]
        let ids = try await sendTransfers(alpha, count: 40, seed: 7, nonces: &nonces)
        var heights: [UInt64] = []
        #expect(
            try await eventually(30) {
                heights = []
                for id in ids {
                    guard
                        let h = try await alpha.call(RollupMethod.getReceipt, [.string(id.hex)])["blockHeight"]?
                            .unsignedValue
                    else { return false }
                    heights.append(h)
                }
                return true
            })
        let b = try #require(heights.max())
        // A pending output covering block b.
        var target: L1Output?
        #expect(
            try await eventually(30) {
                target = try await outputs(l1).last { $0.output.l2Height >= b && $0.status == .pending }
                return target != nil
            })
        let output = try #require(target)
        let store = try ChainStore.open(datadir: dir.appending("alpha"), genesis: genesis)
        let block = try #require(try store.block(at: b))
        #expect(!block.transactions.isEmpty)
        let right = try store.witness(replaying: [block], after: b - 1).witness
        let stale = try store.witness(replaying: [block], after: b - 2).witness
        let empty = try store.witness(replaying: [Block(header: block.header, transactions: [])], after: b - 1).witness
        // alpha's challenger key holds 1,000 output bonds on the L1: enough for the challenge bonds.
        let key = DevKeys.key(named: "alpha/challenger")
        let bond = genesis.l1.challengeBond
        let funded = try #require(try await l1.rpc.call(L1Method.getBalance, [.string(key.address.hex)]).unsignedValue)
        var lost: UInt64 = 0
        func challenge(_ proof: FraudProof, index: UInt64? = nil) -> Challenge {
            Challenge(rollup: RollupID(1), outputIndex: index ?? output.index, proof: proof, signedBy: key)
        }
        let before = try await outputs(l1)
        let cases: [(FraudProof, String)] = [
            (.block(height: b, witness: right), "is exactly what the block rule gives"),
            (.block(height: b, witness: stale), "does not verify against block \(b - 1)'s state root"),
            (.block(height: b, witness: empty), "the witness does not cover block \(b)"),
            (.block(height: output.output.l2Height + 1, witness: right), "outside the output's disputable range"),
            (.output, "matches the DA header"),
            (.notInDA, "are all in DA"),
        ]
        for (proof, reason) in cases {
            let failure = await errorCode { _ = try await l1.challenge(challenge(proof)) }
            #expect(failure?.code == -32028, "\(proof.kind): \(failure?.message ?? "accepted")")
            #expect(failure?.message.contains(reason) == true, "\(failure?.message ?? "accepted")")
            #expect(failure?.message.contains("its bond of \(bond) was forfeited") == true)
            if failure?.code == -32028 { lost += 1 }
        }
        // A span proof of the correct chain from the anchor loses too. The anchor is the newest
        // finalized output before the target when the L1 judges; one may finalize in between, so
        // the challenger re-reads and retries, as a real one would.
        var spanFailure: (code: Int, message: String)?
        for _ in 0..<3 {
            let now = try await outputs(l1)
            let anchor = now.last { $0.index < output.index && $0.status == .finalized }?.output.l2Height ?? 0
            var spanBlocks: [Block] = []
            for h in (anchor + 1)...output.output.l2Height {
                spanBlocks.append(try #require(try store.block(at: h)))
            }
            let span = try store.witness(replaying: spanBlocks, after: anchor).witness
            let anchorHeader = try #require(try store.header(at: anchor))
            spanFailure = await errorCode {
                _ = try await l1.challenge(challenge(.span(anchor: anchorHeader, witness: span)))
            }
            if spanFailure?.code == -32028 { lost += 1 }
            if spanFailure?.message.contains("anchor") != true { break }
        }
        #expect(spanFailure?.code == -32028)
        #expect(spanFailure?.message.contains("gives exactly the output") == true, "\(spanFailure?.message ?? "")")
        // A bad signature, an unknown output.
        var forged = challenge(.output)
        forged.signature = DevKeys.key(named: "other").sign([1, 2, 3])
        #expect(await errorCode { _ = try await l1.rpc.call(L1Method.challenge, [hex(forged)]) }?.code == -32021)
        #expect(await errorCode { _ = try await l1.challenge(challenge(.output, index: 999)) }?.code == -32030)
        // Nothing changed but the burned bonds of the judged challenges.
        let after = try await outputs(l1)
        #expect(after.allSatisfy { $0.status != .invalidated })
        #expect(try await l1.status().rollup(RollupID(1))?.brokenAt == nil)
        #expect(lost >= UInt64(cases.count) + 1)
        let left = try await l1.rpc.call(L1Method.getBalance, [.string(key.address.hex)])
        #expect(left.unsignedValue == funded - lost * bond)

        // After the window the output is final: too late.
        let first = try #require(after.first)
        #expect(try await eventually(60) { try await outputs(l1).first?.status == .finalized })
        let late = await errorCode { _ = try await l1.challenge(challenge(.output, index: first.index)) }
        #expect(late?.code == -32029, "\(late?.message ?? "accepted")")
        #expect(late?.message.contains("closed at L1 height \(first.windowEnd)") == true)
        #expect(alphaNode.stop() == 0)
        #expect(l1Node.stop() == 0)
    }

    /// Bad input against the L1 over HTTP is refused with a clear error and changes nothing.
    @Test func badBlobsAndOutputsAreRefusedAndChangeNothing() async throws {
        let dir = try TemporaryDirectory("l1-bad")
        let genesisPath = try fastGenesis(dir, maxBlob: 65536)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha")), beta = try #require(genesis.rollup(named: "beta"))
        let batcher = DevKeys.key(named: alpha.batcher.name)
        let l1Node = try startL1(dir, genesis: genesisPath)
        defer { l1Node.stop() }
        let l1 = L1Client(url: l1Node.url)
        var rng = SplitMix64(seed: 9)
        func random(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let frame = try Zstd.compress(random(200) + [UInt8](repeating: 7, count: 2000))
        let header = BatchHeader(rollup: alpha.id, seq: 0, firstHeight: 1, lastHeight: 3)
        let accepted = try await l1.postBlob(BlobPost(header: header, frame: frame, signedBy: batcher))
        #expect(!accepted.duplicate)
        // Idempotent re-post: the original placement.
        let again = try await l1.postBlob(BlobPost(header: header, frame: frame, signedBy: batcher))
        #expect(again.duplicate && again.l1Height == accepted.l1Height && again.commitment == accepted.commitment)

        func post(_ p: BlobPost) async -> (code: Int, message: String)? {
            await errorCode { _ = try await l1.rpc.call(L1Method.postBlob, [hex(p)]) }
        }
        // Room for 5 blocks (224 bytes each): each header below passes the block-count bound.
        let other = try Zstd.compress(random(300) + [UInt8](repeating: 8, count: 1000))
        var unsigned = BlobPost(header: header, frame: other, signedBy: batcher)
        unsigned.signature = Signature(bytes: [UInt8](repeating: 0, count: 64))!
        let next = BatchHeader(rollup: alpha.id, seq: 1, firstHeight: 4, lastHeight: 4)
        let bad: [(String, BlobPost, Int)] = [
            ("replayed seq, other bytes", BlobPost(header: header, frame: other, signedBy: batcher), -32024),
            ("unsigned", unsigned, -32021),
            (
                "beta's batcher key",
                BlobPost(header: next, frame: other, signedBy: DevKeys.key(named: beta.batcher.name)), -32021
            ),
            (
                "alpha's proposer key",
                BlobPost(header: next, frame: other, signedBy: DevKeys.key(named: alpha.proposer.name)), -32021
            ),
            ("oversized", BlobPost(header: next, frame: try Zstd.compress(random(70_000)), signedBy: batcher), -32022),
            ("not a zstd frame", BlobPost(header: next, frame: random(500), signedBy: batcher), -32023),
            (
                "a gap in seq",
                BlobPost(
                    header: BatchHeader(rollup: alpha.id, seq: 2, firstHeight: 4, lastHeight: 4), frame: other,
                    signedBy: batcher), -32025
            ),
            (
                "a gap in heights",
                BlobPost(
                    header: BatchHeader(rollup: alpha.id, seq: 1, firstHeight: 9, lastHeight: 9), frame: other,
                    signedBy: batcher), -32025
            ),
            (
                "an unknown rollup",
                BlobPost(
                    header: BatchHeader(rollup: RollupID(77), seq: 0, firstHeight: 1, lastHeight: 1), frame: other,
                    signedBy: batcher), -32020
            ),
        ]
        for (name, p, code) in bad {
            let failure = await post(p)
            #expect(failure?.code == code, "\(name): \(failure.map { "\($0.code) \($0.message)" } ?? "accepted")")
            #expect(failure?.message.isEmpty == false)
        }
        // Malformed parameters and bodies.
        #expect(await errorCode { _ = try await l1.rpc.call(L1Method.postBlob, [.string("0x1234")]) }?.code == -32602)
        #expect(await errorCode { _ = try await l1.rpc.call(L1Method.postBlob, [.string("zz")]) }?.code == -32602)
        let huge = try await RPCClient(url: l1.url).post(Data(repeating: 0x20, count: 33 << 20))
        #expect(huge["error"]?["code"]?.unsignedValue == nil)  // a negative code
        #expect(huge["error"] != nil)

        // Outputs: a foreign key, a height not in DA, a bad signature.
        let output = Output(rollup: alpha.id, l2Height: 3, blockHash: .zero, stateRoot: .zero, outboxRoot: .zero)
        let foreign = OutputProposal(output: output, parent: .zero, signedBy: DevKeys.key(named: beta.proposer.name))
        #expect(await errorCode { _ = try await l1.proposeOutput(foreign) }?.code == -32021)
        let proposer = DevKeys.key(named: alpha.proposer.name)
        var beyond = output
        beyond.l2Height = 4
        let notInDA = await errorCode {
            _ = try await l1.proposeOutput(OutputProposal(output: beyond, parent: .zero, signedBy: proposer))
        }
        #expect(notInDA?.code == -32027)
        #expect(notInDA?.message.contains("not in DA yet") == true)
        var tampered = OutputProposal(output: output, parent: .zero, signedBy: proposer)
        tampered.output.l2Height = 2
        #expect(await errorCode { _ = try await l1.proposeOutput(tampered) }?.code == -32021)

        // Nothing changed: one blob, the original bytes, no outputs, bonds untouched.
        let status = try await l1.status()
        #expect(status.rollup(RollupID(1))?.nextSeq == 1 && status.rollup(RollupID(1))?.daHeight == 3)
        let blob = try await l1.rpc.call(L1Method.getBlob, [.number(1), .number(0)])
        #expect(blob["commitment"]?.stringValue == accepted.commitment.hex)
        #expect(blob["data"]?.stringValue == "0x" + Hex.encode(frame))
        #expect(try await outputs(l1).isEmpty)
        let balance = try await l1.rpc.call(L1Method.getBalance, [.string(proposer.address.hex)])
        #expect(balance.unsignedValue == genesis.l1.bond * 1000)
        #expect(l1Node.stop() == 0)
    }

    /// Issue 13 finding 5 over real processes: a header claiming blocks 1 … 2^64 − 1, signed by alpha's
    /// batcher, used to be stored and trap the L1 on the next post (and after every restart). It is
    /// refused (-32023: more blocks than the frame holds), the L1 keeps producing blocks, and the
    /// honest blob for the same sequence number, and the one after it, are accepted.
    @Test func anAbsurdBlockCountIsRefusedAndTheL1KeepsGoing() async throws {
        let dir = try TemporaryDirectory("l1-absurd")
        let genesisPath = try fastGenesis(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        let batcher = DevKeys.key(named: alpha.batcher.name)
        let l1Node = try startL1(dir, genesis: genesisPath)
        defer { l1Node.stop() }
        let l1 = L1Client(url: l1Node.url)
        let frame = try Zstd.compress([UInt8](repeating: 7, count: 18 * Block.minimumEncodedBytes + 100))
        func header(_ seq: UInt64, _ first: UInt64, _ last: UInt64) -> BatchHeader {
            BatchHeader(rollup: alpha.id, seq: seq, firstHeight: first, lastHeight: last)
        }
        let absurd = await errorCode {
            _ = try await l1.postBlob(BlobPost(header: header(0, 1, UInt64.max), frame: frame, signedBy: batcher))
        }
        #expect(absurd?.code == -32023, "\(absurd.map { "\($0.code) \($0.message)" } ?? "accepted")")
        #expect(absurd?.message.contains("at most 18 blocks fit") == true)
        let oneTooMany = await errorCode {
            _ = try await l1.postBlob(BlobPost(header: header(0, 1, 19), frame: frame, signedBy: batcher))
        }
        #expect(oneTooMany?.code == -32023)
        let height = try await l1.blockNumber()
        #expect(try await eventually(20) { try await l1.blockNumber() >= height + 3 }, "the L1 stopped producing blocks")
        #expect(try await l1.status().rollup(alpha.id)?.daHeight == 0)
        let honest = try await l1.postBlob(BlobPost(header: header(0, 1, 18), frame: frame, signedBy: batcher))
        #expect(!honest.duplicate)
        _ = try await l1.postBlob(BlobPost(header: header(1, 19, 19), frame: frame, signedBy: batcher))
        let status = try await l1.status()
        #expect(status.rollup(alpha.id)?.daHeight == 19 && status.rollup(alpha.id)?.nextSeq == 2)
        #expect(l1Node.stop() == 0)
    }

    /// Issue 13 finding 7c: one HTTP request, a JSON-RPC batch included, can make the L1 serialise at
    /// most its response budget (here 4 MiB via --max-response-bytes). A batch of 20 `l1_getBlobs`
    /// calls, each answering ~1.8 MiB of hex, gets the answers that fit and -32040 for the rest; the L1
    /// goes on serving and producing blocks, and the next request has a fresh budget.
    @Test func aBatchOverTheResponseBudgetIsRefusedAndTheL1KeepsServing() async throws {
        let dir = try TemporaryDirectory("l1-budget")
        let genesisPath = try fastGenesis(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        let budget = 4 << 20
        let l1Node = try NodeProcess(
            [
                "l1", "--genesis", genesisPath, "--datadir", dir.appending("l1"), "--rpc-port", "0",
                "--max-response-bytes", "\(budget)",
            ], logPath: dir.appending("l1.log"))
        defer { l1Node.stop() }
        let l1 = L1Client(url: l1Node.url)
        var rng = SplitMix64(seed: 13)
        let frame = try Zstd.compress(rng.bytes(900_000))
        _ = try await l1.postBlob(
            BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: 0, firstHeight: 1, lastHeight: 1), frame: frame,
                signedBy: DevKeys.key(named: alpha.batcher.name)))
        let calls = (0..<20).map { i in
            #"{"jsonrpc":"2.0","id":\#(i),"method":"l1_getBlobs","params":[1]}"#
        }
        let reply = try await RPCClient(url: l1.url).post(Data(("[" + calls.joined(separator: ",") + "]").utf8))
        guard case .array(let answers) = reply else {
            Issue.record("not a batch answer: \(String(describing: reply).prefix(200))")
            return
        }
        #expect(answers.count == 20)
        let served = answers.filter { $0["result"] != nil }
        let refused = answers.filter { $0["error"]?["code"] == .integer(-32040) }
        #expect(served.count == 2, "\(served.count) answers of ~1.8 MiB fit in 4 MiB")
        #expect(refused.count == 18)
        #expect(answers.prefix(2).allSatisfy { $0["result"] != nil }, "the calls before the budget ran out keep their answers")
        #expect(
            refused.first?["error"]?["message"]?.stringValue?.contains("budget of \(budget) bytes") == true,
            "\(refused.first.map { "\($0)" } ?? "")")
        // The L1 keeps serving: a new request has a new budget, and blocks keep coming.
        let height = try await l1.blockNumber()
        let blob = try await l1.rpc.call(L1Method.getBlob, [.number(1), .number(0)])
        #expect(blob["data"]?.stringValue == "0x" + Hex.encode(frame))
        #expect(try await eventually(20) { try await l1.blockNumber() >= height + 2 })
        #expect(l1Node.stop() == 0)
    }
}
