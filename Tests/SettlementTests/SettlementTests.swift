import Chain
import Compression
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import StateTree
import Testing
import TributaryTesting

/// One rollup with a small block byte limit.
func settlementGenesis() throws -> Genesis {
    var builder = GenesisBuilder.small(rollups: 1)
    builder.eachRollup { $0.extra["maxBlockBytes"] = .number(4096) }
    return try builder.parsed()
}

/// A rollup chain in a temporary store, with helpers to make blocks of transfers.
final class Fixture {
    let dir: TemporaryDirectory
    let rollup: RollupParameters
    let store: ChainStore
    var nonces: [Int: UInt64] = [:]

    init() throws {
        dir = try TemporaryDirectory("settlement")
        let genesis = try settlementGenesis()
        rollup = genesis.rollups[0]
        store = try ChainStore(datadir: dir.path, rollup: rollup, network: Network(genesis))
    }

    func transfer(from s: Int, to r: Int, amount: UInt64) -> SignedTransaction {
        defer { nonces[s, default: 0] += 1 }
        return Transaction(
            rollup: rollup.id, nonce: nonces[s, default: 0], sender: DevKeys.account(s).publicKey, fee: 1,
            call: .transfer(to: DevKeys.account(r).address, asset: rollup.nativeAsset, amount: amount)
        ).signed(by: DevKeys.account(s))
    }

    @discardableResult
    func block(_ txs: [SignedTransaction]) throws -> Block {
        try store.commitBlock(candidates: txs, timestamp: 0, checkSignatures: true).block
    }
}

/// DA from a dictionary of posted blocks.
final class MemoryDA: DataAvailability {
    var blocks: [UInt64: Block] = [:]
    /// Heights whose blob does not decode.
    var undecodable: Set<UInt64> = []
    func block(at height: UInt64) throws -> DABlock {
        if undecodable.contains(height) { return .undecodable(seq: 0, .malformed("batch version 2")) }
        return blocks[height].map { .found($0) } ?? .missing
    }
}

@Suite struct BatchCodecTests {
    @Test func roundTripsAndRejectsEveryMalformedBlob() throws {
        let f = try Fixture()
        let blocks = try (0..<3).map { i in try f.block([f.transfer(from: i, to: 3, amount: 10)]) }
        let header = BatchHeader(rollup: f.rollup.id, seq: 0, firstHeight: 1, lastHeight: 3)
        let frame = try BatchCodec.encode(blocks, level: 3)
        #expect(try BatchCodec.decode(frame, header: header) == blocks)
        // The frame is a standard one: the size is in its header.
        #expect(try Zstd.frameHeader(frame).contentSize == UInt64(BatchCodec.payload(blocks).count))

        #expect(throws: BatchError.self) { try BatchCodec.decode([1, 2, 3, 4, 5, 6, 7, 8], header: header) }
        #expect(throws: BatchError.self) { try BatchCodec.decode(frame + [0], header: header) }
        var wrongCount = header
        wrongCount.lastHeight = 4
        #expect(throws: BatchError.mismatch("it holds 3 blocks, the header names 4")) {
            try BatchCodec.decode(frame, header: wrongCount)
        }
        var shifted = header
        shifted.firstHeight = 2
        shifted.lastHeight = 4
        #expect(throws: BatchError.self) { try BatchCodec.decode(frame, header: shifted) }
        var otherRollup = header
        otherRollup.rollup = RollupID(2)
        #expect(throws: BatchError.self) { try BatchCodec.decode(frame, header: otherRollup) }
        let badVersion = try Zstd.compress([9] + BatchCodec.payload(blocks).dropFirst())
        #expect(throws: BatchError.self) { try BatchCodec.decode(badVersion, header: header) }
        let trailing = try Zstd.compress(BatchCodec.payload(blocks) + [0])
        #expect(throws: BatchError.self) { try BatchCodec.decode(trailing, header: header) }
    }

    @Test func signaturesBindKindKeyAndBytes() throws {
        let batcher = DevKeys.key(named: "alpha/batcher")
        let header = BatchHeader(rollup: RollupID(1), seq: 0, firstHeight: 1, lastHeight: 1)
        let post = BlobPost(header: header, frame: [1, 2, 3], signedBy: batcher)
        #expect(post.isSigned(by: batcher.publicKey))
        #expect(!post.isSigned(by: DevKeys.key(named: "alpha/proposer").publicKey))
        var other = post
        other.frame = [1, 2, 4]
        #expect(!other.isSigned(by: batcher.publicKey))
        var moved = post
        moved.header.seq = 1
        #expect(!moved.isSigned(by: batcher.publicKey))
        let decoded = try BlobPost(canonicalBytes: post.canonicalBytes)
        #expect(decoded == post)

        let output = Output(rollup: RollupID(1), l2Height: 10, blockHash: .zero, stateRoot: .zero, outboxRoot: .zero)
        let proposal = OutputProposal(output: output, parent: .sha256([1]), signedBy: batcher)
        #expect(proposal.hasValidSignature)
        #expect(try OutputProposal(canonicalBytes: proposal.canonicalBytes) == proposal)
        var forged = proposal
        forged.output.l2Height = 11
        #expect(!forged.hasValidSignature)
        var reparented = proposal
        reparented.parent = .zero
        #expect(!reparented.hasValidSignature)
        let challenge = Challenge(rollup: RollupID(1), outputIndex: 3, proof: .output, signedBy: batcher)
        #expect(challenge.hasValidSignature)
        #expect(try Challenge(canonicalBytes: challenge.canonicalBytes) == challenge)
        #expect(throws: CanonicalDecodingError.self) { try FraudProof(canonicalBytes: [7]) }
    }
}

@Suite struct AdjudicatorTests {
    /// An honest chain of 3 blocks and a DA copy of it.
    func honest() throws -> (Fixture, MemoryDA, Adjudicator, [Block]) {
        let f = try Fixture()
        let blocks = try [
            f.block([f.transfer(from: 0, to: 1, amount: 100), f.transfer(from: 1, to: 2, amount: 5)]),
            f.block([f.transfer(from: 2, to: 0, amount: 7)]),
            f.block([f.transfer(from: 3, to: 1, amount: 1), f.transfer(from: 0, to: 3, amount: 2)]),
        ]
        let da = MemoryDA()
        for b in blocks { da.blocks[b.header.height] = b }
        return (f, da, try Adjudicator(rollup: f.rollup, network: f.store.network), blocks)
    }

    func genesisAnchor(_ a: Adjudicator) -> Anchor {
        Anchor(height: 0, blockHash: a.genesis.header.hash, stateRoot: a.genesis.header.stateRoot)
    }

    @Test func everyProofOfAnHonestChainLoses() throws {
        let (f, da, a, blocks) = try honest()
        let output = Output(header: blocks[2].header)
        let anchor = genesisAnchor(a)
        for b in 1...3 {
            let w = try f.store.witness(replaying: [blocks[b - 1]], after: UInt64(b - 1)).witness
            let v = try a.judge(
                .block(height: UInt64(b), witness: w), output: output, anchor: anchor, brokenAt: nil, da: da)
            #expect(!v.isWon, "\(v.reason)")
        }
        #expect(try !a.judge(.output, output: output, anchor: anchor, brokenAt: nil, da: da).isWon)
        #expect(try !a.judge(.notInDA, output: output, anchor: anchor, brokenAt: nil, da: da).isWon)
        let v = try a.judge(span(f, blocks), output: output, anchor: anchor, brokenAt: nil, da: da)
        #expect(!v.isWon, "\(v.reason)")
    }

    func span(_ f: Fixture, _ blocks: [Block], after anchor: UInt64 = 0) throws -> FraudProof {
        .span(
            anchor: try #require(try f.store.header(at: anchor)),
            witness: try f.store.witness(replaying: blocks, after: anchor).witness)
    }

    /// Posts a block 2 that lies about its state root and a block 3 that links to the lie.
    func lieAtTwo(_ blocks: [Block], _ da: MemoryDA) -> (lie: Block, next: Block) {
        var lie = blocks[1]
        lie.header.stateRoot = ChainStore.faultyRoot(lie.header.stateRoot)
        var next = blocks[2]
        next.header.parent = lie.header.hash
        da.blocks[2] = lie
        da.blocks[3] = next
        return (lie, next)
    }

    @Test func aFalseRootLosesToABlockProofAndAFalseOutputToSpanAndOutputProofs() throws {
        let (f, da, a, blocks) = try honest()
        let anchor = genesisAnchor(a)
        // The sequencer lies about block 2's state root; block 3 links to the lie.
        let (lie, next) = lieAtTwo(blocks, da)
        let adopting = Output(header: next.header)
        let w2 = try f.store.witness(replaying: [blocks[1]], after: 1).witness
        let won = try a.judge(.block(height: 2, witness: w2), output: adopting, anchor: anchor, brokenAt: nil, da: da)
        #expect(won.isWon)
        #expect(won.reason.contains("state root"), "\(won.reason)")
        // Block 3 follows from the (false) block 2, so proving it loses: only the first lie is provable.
        let w3 = try f.store.witness(replaying: [blocks[2]], after: 2).witness
        let notFirst = try a.judge(
            .block(height: 3, witness: w3), output: adopting, anchor: anchor, brokenAt: nil, da: da)
        #expect(!notFirst.isWon)
        // Above the proven break the adopting output still loses to the block proof and to span…
        #expect(
            try a.judge(.block(height: 2, witness: w2), output: adopting, anchor: anchor, brokenAt: 2, da: da).isWon)
        #expect(try a.judge(span(f, [lie, next]), output: adopting, anchor: anchor, brokenAt: 2, da: da).isWon)
        // …and the honest re-executed output survives every proof, from anyone.
        let honestOutput = Output(header: blocks[2].header)
        for byRollupProposer in [true, false] {
            for proof in [FraudProof.output, .notInDA, try span(f, [blocks[0], lie, next])] {
                let v = try a.judge(
                    proof, output: honestOutput, anchor: anchor, brokenAt: 2, da: da, byRollupProposer: byRollupProposer)
                #expect(!v.isWon, "\(proof.kind): \(v.reason)")
            }
        }
        // A span proof beats any other output above the break.
        var wrong = honestOutput
        wrong.stateRoot = Hash.sha256([1])
        #expect(try a.judge(span(f, [blocks[0], lie, next]), output: wrong, anchor: anchor, brokenAt: 2, da: da).isWon)
        // Missing DA wins whatever the proof.
        da.blocks[3] = nil
        let missing = try a.judge(.notInDA, output: honestOutput, anchor: anchor, brokenAt: nil, da: da)
        #expect(missing.isWon && missing.reason.contains("block 3 is not in DA"))
    }

    @Test func aBlockWithAWrongTransactionsRootLosesAndAJunkTransactionIsNoFault() throws {
        let (f, da, a, blocks) = try honest()
        let anchor = genesisAnchor(a)
        // A replayed transaction (its nonce is used) posted in block 2 with a tx root over it.
        var replay = blocks[1]
        replay.transactions.append(blocks[0].transactions[0])
        replay.header.transactionsRoot = MerkleList.root(replay.transactions.map(\.id))
        da.blocks[2] = replay
        da.blocks[3] = nil
        // The challenger's witness covers every key the posted block touches, the invalid one's too.
        let posted = try f.store.witness(replaying: [replay], after: 1).witness
        let v = try a.judge(
            .block(height: 2, witness: posted), output: Output(header: replay.header), anchor: anchor, brokenAt: nil,
            da: da)
        #expect(v.isWon, "\(v.reason)")
        #expect(v.reason.contains("transactions root"), "\(v.reason)")
        // The same junk under the honest header is no fault: derivation leaves it out, and so does the
        // L1's rule, so the honest output survives (finding 3, second trigger).
        var junk = blocks[1]
        junk.transactions.append(blocks[0].transactions[0])
        da.blocks[2] = junk
        da.blocks[3] = blocks[2]
        let honestOutput = Output(header: blocks[2].header)
        let junkWitness = try f.store.witness(replaying: [junk], after: 1).witness
        for proof in [FraudProof.block(height: 2, witness: junkWitness), .output, try span(f, [blocks[0], junk, blocks[2]])]
        {
            let verdict = try a.judge(proof, output: honestOutput, anchor: anchor, brokenAt: nil, da: da)
            #expect(!verdict.isWon, "\(proof.kind): \(verdict.reason)")
        }
    }

    @Test func aBrokenParentLinkIsProvenBySpanNotByTheBlockBelowIt() throws {
        let (f, da, a, blocks) = try honest()
        let anchor = genesisAnchor(a)
        var orphan = blocks[1]
        orphan.header.parent = Hash.sha256([9])
        da.blocks[2] = orphan
        da.blocks[3] = nil
        let output = Output(header: orphan.header)
        let w = try f.store.witness(replaying: [blocks[1]], after: 1).witness
        // The block proof presumes the posted block below is right; a link that does not hold could be a
        // healed lie, so it is refused…
        let link = try a.judge(.block(height: 2, witness: w), output: output, anchor: anchor, brokenAt: nil, da: da)
        #expect(!link.isWon && link.reason.contains("span"), "\(link.reason)")
        // …and re-execution from the anchor wins.
        #expect(try a.judge(span(f, [blocks[0], orphan]), output: output, anchor: anchor, brokenAt: nil, da: da).isWon)
    }

    @Test func aHealedLieNeverFreezesTheHonestOutputAboveIt() throws {
        // Block 1's header lies; block 2's header links to the honest block 1 and is right: the posted
        // chain heals. The honest output at 3 adopts the posted (= canonical) header at 3.
        let (f, da, a, blocks) = try honest()
        let anchor = genesisAnchor(a)
        var lie = blocks[0]
        lie.header.receiptsRoot = Hash.sha256([7])
        da.blocks[1] = lie
        let honestOutput = Output(header: blocks[2].header)
        for b in 1...3 {
            let w = try f.store.witness(replaying: [da.blocks[UInt64(b)]!], after: UInt64(b - 1)).witness
            let v = try a.judge(
                .block(height: UInt64(b), witness: w), output: honestOutput, anchor: anchor, brokenAt: nil, da: da)
            #expect(!v.isWon, "block \(b): \(v.reason)")
        }
        #expect(try !a.judge(span(f, [lie, blocks[1], blocks[2]]), output: honestOutput, anchor: anchor, brokenAt: 1, da: da).isWon)
    }

    @Test func aBatchNotInDADerivesAsEmptyBlocksAndAnOutputOverItIsDecided() throws {
        // Finding 1: the batcher posts garbage for blocks 2…3 and the proposer proposes its own blocks.
        // The canonical chain holds empty blocks there; the false output loses, the re-executed one
        // (what a follower derives and proposes) survives every proof.
        let (f, da, a, blocks) = try honest()
        let anchor = genesisAnchor(a)
        da.undecodable = [2, 3]
        let follower = try Fixture()
        try follower.block(blocks[0].transactions)
        for _ in 2...3 {
            let parent = try follower.store.head()
            let empty = try follower.store.commitBlock(
                candidates: [], timestamp: parent.timestamp, l1Origin: parent.l1Origin, checkSignatures: true
            ).block
            #expect(empty == BlockRule.emptyBlock(after: parent))
        }
        let liar = Output(header: blocks[2].header)
        #expect(try a.judge(.output, output: liar, anchor: anchor, brokenAt: nil, da: da).isWon)
        #expect(try a.judge(span(f, [blocks[0], blocks[1], blocks[2]]), output: liar, anchor: anchor, brokenAt: nil, da: da).isWon)
        let canonical = Output(header: try #require(try follower.store.header(at: 3)))
        let empties = [blocks[0], Block(header: blocks[1].header, transactions: []), Block(header: blocks[2].header, transactions: [])]
        for proof in [FraudProof.output, .notInDA, try span(follower, empties)] {
            let v = try a.judge(proof, output: canonical, anchor: anchor, brokenAt: nil, da: da, byRollupProposer: false)
            #expect(!v.isWon, "\(proof.kind): \(v.reason)")
        }
        try follower.store.verify()
    }

    @Test func aBlockStopsAtItsByteLimitAndALargerPostedOneIsAFault() throws {
        // Issue 22, finding 1: 60 transfers do not fit one 4,096-byte block. The rule takes them in
        // order until the next would pass the limit, defers the rest (not invalid), and a posted block
        // that holds more is a fault the block proof wins against.
        let (f, da, a, _) = try honest()
        let txs = (0..<60).map { i in f.transfer(from: i % 4, to: (i + 1) % 4, amount: 1) }
        let limit = Int(f.rollup.maxBlockBytes)
        #expect(limit == 4096)
        let first = try f.store.commitBlock(candidates: txs, timestamp: 10, checkSignatures: true)
        #expect(first.block.canonicalBytes.count <= limit)
        #expect(first.block.canonicalBytes.count + txs[first.block.transactions.count].canonicalBytes.count > limit)
        #expect(first.dropped.isEmpty)
        #expect(first.deferred == Array(txs[first.block.transactions.count...]))
        let second = try f.store.commitBlock(candidates: first.deferred, timestamp: 11, checkSignatures: true)
        #expect(second.block.transactions.first == first.deferred.first)
        try f.store.verify()
        // A liar's block with every transaction: the rule cuts it, so its header is a fault.
        var oversize = first.block
        oversize.transactions = txs
        oversize.header.transactionsRoot = MerkleList.root(txs.map(\.id))
        #expect(oversize.canonicalBytes.count > limit)
        let h = first.block.header.height
        da.blocks[h] = oversize
        let w = try f.store.witness(replaying: [oversize], after: h - 1).witness
        let v = try a.judge(
            .block(height: h, witness: w), output: Output(header: oversize.header), anchor: genesisAnchor(a),
            brokenAt: nil, da: da)
        #expect(v.isWon && v.reason.contains("transactions root"), "\(v.reason)")
        // A transaction over the per-transaction limit is invalid.
        let big = Transaction(
            rollup: f.rollup.id, nonce: 0, sender: DevKeys.account(5).publicKey, fee: 1,
            call: .sendMessage(
                destination: RollupID(9), target: "bank", recipient: DevKeys.account(1).address, value: [],
                payload: [UInt8](repeating: 7, count: 1024))
        ).signed(by: DevKeys.account(5))
        let bytes = BlockBytes(block: 1024)
        #expect(big.canonicalBytes.count > bytes.perTransaction)
        var rules = f.store.rules
        rules.bytes = bytes
        let ruled = try f.store.withState { view in
            try BlockRule.apply(
                [big], origin: .none, timestamp: 12, parent: view.header, rules: rules, l1: NoL1(), blobL1Height: nil,
                state: view.state, checkSignatures: true)
        }
        #expect(ruled.included.isEmpty)
        #expect(
            ruled.dropped.first?.reason == .tooLarge(size: big.canonicalBytes.count, limit: bytes.perTransaction))
    }

    @Test func aFaultAtOrBelowTheAnchorLosesToSpan() throws {
        // Finding 2: the posted chain lies at block 1; an honest output at 2 (not adopting the posted
        // headers) finalized; a false output at 3 adopts the posted chain. The block proof is out of
        // range; span from the anchor wins.
        let (f, da, a, blocks) = try honest()
        var lie = blocks[0]
        lie.header.stateRoot = ChainStore.faultyRoot(lie.header.stateRoot)
        var b2 = blocks[1], b3 = blocks[2]
        b2.header.parent = lie.header.hash
        b3.header.parent = b2.header.hash
        da.blocks[1] = lie
        da.blocks[2] = b2
        da.blocks[3] = b3
        let h2 = blocks[1].header
        let anchor = Anchor(height: 2, blockHash: h2.hash, stateRoot: h2.stateRoot)
        let adopting = Output(header: b3.header)
        let w = try f.store.witness(replaying: [lie], after: 0).witness
        #expect(try !a.judge(.block(height: 1, witness: w), output: adopting, anchor: anchor, brokenAt: nil, da: da).isWon)
        let proof = try span(f, [b3], after: 2)
        #expect(try a.judge(proof, output: adopting, anchor: anchor, brokenAt: nil, da: da).isWon)
        #expect(try !a.judge(proof, output: Output(header: blocks[2].header), anchor: anchor, brokenAt: nil, da: da).isWon)
        // A span proof must start at the anchor's own header.
        let wrongAnchor = FraudProof.span(anchor: blocks[0].header, witness: try f.store.witness(replaying: [b3], after: 2).witness)
        #expect(try !a.judge(wrongAnchor, output: adopting, anchor: anchor, brokenAt: nil, da: da).isWon)
    }

    @Test func aFallbackProposersOutputLosesNoBondToAnOutputProof() throws {
        // Finding 4: the posted chain lies and its sequencer never proposes; a follower proposes the
        // re-executed chain, which does not adopt the posted headers. The free `output` proof that
        // used to take its bond must lose; only span decides, and span says it is right.
        let (f, da, a, blocks) = try honest()
        let anchor = genesisAnchor(a)
        let (lie, next) = lieAtTwo(blocks, da)
        let canonical = Output(header: blocks[2].header)
        let v = try a.judge(.output, output: canonical, anchor: anchor, brokenAt: nil, da: da, byRollupProposer: false)
        #expect(!v.isWon && v.reason.contains("span"), "\(v.reason)")
        #expect(
            try !a.judge(span(f, [blocks[0], lie, next]), output: canonical, anchor: anchor, brokenAt: nil, da: da, byRollupProposer: false).isWon)
        // The rollup's own proposer contradicting its own posted chain still loses to `output`.
        #expect(try a.judge(.output, output: canonical, anchor: anchor, brokenAt: nil, da: da, byRollupProposer: true).isWon)
    }

    @Test func anL1OriginOlderThanTheParentsIsAFaultOfTheRuleAndOfDerivation() throws {
        // Finding 3, first and third triggers: the rule floors the origin at the parent's, so a posted
        // block that goes back is not what the rule gives, in derivation and in the block proof alike.
        let (f, da, a, _) = try honest()
        let origin = L1Origin(height: 8, hash: Hash.sha256([8]))
        let up = try f.store.commitBlock(candidates: [], timestamp: 5, l1Origin: origin, checkSignatures: true).block
        #expect(up.header.l1Origin == origin)
        // The sequencer proposes origin 0 (it lost its view of the L1): its block keeps the parent's.
        let floored = try f.store.commitBlock(candidates: [], timestamp: 1, l1Origin: .none, checkSignatures: true).block
        #expect(floored.header.l1Origin == origin)
        #expect(floored.header.timestamp == 5)
        try f.store.verify()
        // A posted block that says origin 0 is a fault the block proof proves.
        var back = floored
        back.header.l1Origin = .none
        da.blocks[4] = up
        da.blocks[5] = back
        let w = try f.store.witness(replaying: [back], after: 4).witness
        let v = try a.judge(
            .block(height: 5, witness: w), output: Output(header: back.header), anchor: genesisAnchor(a),
            brokenAt: nil, da: da)
        #expect(v.isWon && v.reason.contains("L1 origin"), "\(v.reason)")
        // The honest (floored) block is no fault.
        da.blocks[5] = floored
        let honest = try a.judge(
            .block(height: 5, witness: w), output: Output(header: floored.header), anchor: genesisAnchor(a),
            brokenAt: nil, da: da)
        #expect(!honest.isWon, "\(honest.reason)")
    }

    @Test func aWitnessOverAMalformedStateIsRejectedWithoutStoppingTheJudge() throws {
        // Finding 6: the posted block 1 claims a state whose outbox value does not decode; a block proof
        // of block 2 over that state must be rejected, not throw.
        let (f, da, a, blocks) = try honest()
        let memory = MemoryTreeStore()
        let genesis = try f.rollup.genesisBlock()
        memory.apply(genesis.state)
        let poisoned = try StateTree(memory).update(
            base: 0, version: 1, updates: [(key: StateKey.outbox, value: Optional([0xFF, 0x01]))])
        memory.apply(poisoned)
        var claim = blocks[0]
        claim.header.stateRoot = poisoned.rootHash
        var b2 = blocks[1]
        b2.header.parent = claim.header.hash
        da.blocks[1] = claim
        da.blocks[2] = b2
        da.blocks[3] = nil
        // Every key block 2 touches, as the honest state has them.
        let touched = try f.store.withState(at: 1) { view in
            try BlockRule.apply(
                blocks[1].transactions, origin: blocks[1].header.l1Origin, timestamp: blocks[1].header.timestamp,
                parent: blocks[0].header, rules: f.store.rules, l1: NoL1(), blobL1Height: nil, state: view.state,
                checkSignatures: true
            ).touchedKeys
        }
        let w = try StateTree(memory).witness(for: Array(Set(touched)).sorted(), at: 1)
        let v = try a.judge(
            .block(height: 2, witness: w), output: Output(header: b2.header), anchor: genesisAnchor(a), brokenAt: nil,
            da: da)
        #expect(!v.isWon && v.reason.contains("cannot be executed"), "\(v.reason)")
    }
}

/// The L1's bounds on what untrusted bytes can make it allocate or claim (issue 13, findings 5 and 7d).
@Suite struct HostileBoundsTests {
    /// The smallest block is its fixed-width header and an empty transaction list.
    @Test func theSmallestBlockIsAnEmptyHeaderOf224Bytes() {
        #expect(Block.minimumEncodedBytes == 224)
    }

    /// A header may name at most content size / 224 blocks; up to 2^64 − 1 (the overflow of finding 5)
    /// is refused from the frame header alone, and the honest header of the same frame passes.
    @Test func aBatchHeaderCannotClaimMoreBlocksThanItsFrameHolds() throws {
        let frame = try Zstd.compress([UInt8](repeating: 0, count: 224 * 3 + 10))
        func header(_ last: UInt64) -> BatchHeader {
            BatchHeader(rollup: RollupID(1), seq: 0, firstHeight: 1, lastHeight: last)
        }
        #expect(try BatchCodec.check(frame, header: header(3)) == 682)
        #expect(throws: BatchError.tooManyBlocks(claimed: 4, contentSize: 682, limit: 3)) {
            try BatchCodec.check(frame, header: header(4))
        }
        #expect(throws: BatchError.tooManyBlocks(claimed: UInt64.max, contentSize: 682, limit: 3)) {
            try BatchCodec.check(frame, header: header(UInt64.max))
        }
        // blockCount never traps, even for headers no decoder would produce.
        #expect(BatchHeader(rollup: RollupID(1), seq: 0, firstHeight: 0, lastHeight: UInt64.max).blockCount == .max)
        #expect(BatchHeader(rollup: RollupID(1), seq: 0, firstHeight: 5, lastHeight: 4).blockCount == 0)
    }

    /// A fraud proof whose witness is a full tree of empty nodes (one byte each) fails as it decodes,
    /// at the node limit, instead of building millions of heap nodes; a proof under the limit decodes.
    @Test func aWitnessOfMillionsOfEmptyNodesIsRefusedWhileDecoding() throws {
        let key = DevKeys.key(named: "mallory")
        // Pre-order encoding of a perfect tree of depth 21: 2^21 − 1 branches (0x04) and 2^21 empties (0x00).
        var tree: [UInt8] = []
        tree.reserveCapacity(1 << 22)
        func full(_ depth: Int) {
            if depth == 21 {
                tree.append(0)
                return
            }
            tree.append(4)
            full(depth + 1)
            full(depth + 1)
        }
        full(0)
        let anchor = BlockHeader(
            rollup: RollupID(1), height: 0, parent: .zero, l1Origin: .none, timestamp: 0, transactionsRoot: .zero,
            stateRoot: .zero, outboxRoot: .zero, receiptsRoot: .zero)
        for kind in ["block", "span"] {
            var e = CanonicalEncoder()
            e.write(RollupID(1))
            e.write(UInt64(0))
            if kind == "block" {
                e.write(UInt8(0))
                e.write(UInt64(1))
            } else {
                e.write(UInt8(3))
                e.write(anchor)
            }
            let body = e.bytes + tree + key.publicKey.bytes + [UInt8](repeating: 0, count: 64)
            #expect(
                throws: CanonicalDecodingError.lengthExceedsLimit(
                    length: UInt64(Witness.maxNodes + 1), limit: Witness.maxNodes), "\(kind)"
            ) {
                _ = try Challenge(canonicalBytes: body)
            }
        }
        let small = Challenge(
            rollup: RollupID(1), outputIndex: 0,
            proof: .block(height: 1, witness: Witness(root: .branch(.opaque(Hash.sha256([1])), .empty))), signedBy: key)
        #expect(try Challenge(canonicalBytes: small.canonicalBytes) == small)
        var limited = CanonicalDecoder(Witness(root: .branch(.empty, .empty)).canonicalBytes)
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 3, limit: 2)) {
            _ = try Witness(from: &limited, maxNodes: 2)
        }
    }

    /// The lost-challenge entry has its own tag (3) and round-trips.
    @Test func aLostChallengeEntryRoundTrips() throws {
        let entry = L1Entry.lostChallenge(
            id: Hash.sha256([1]), rollup: RollupID(2), outputIndex: 7, kind: "output",
            challenger: DevKeys.key(named: "mallory").publicKey, bondForfeited: 100)
        #expect(entry.canonicalBytes.first == 3)
        #expect(try L1Entry(canonicalBytes: entry.canonicalBytes) == entry)
        #expect(entry.isAdjudicatedChallenge)
    }
}
