import Chain
import Config
import Foundation
import L1
import L1Chain
import Primitives
import Settlement
import Storage
import Testing
import TributaryTesting

/// One rollup; a short window and a short proposer silence, so the L1's rules play out in a few blocks.
func l1Genesis(bond: UInt64 = 5) -> GenesisBuilder {
    var builder = GenesisBuilder.small(rollups: 1)
    builder.l1.fraudWindowBlocks = 3
    builder.l1.proposerSilenceBlocks = 4
    builder.l1.bond = bond
    return builder
}

/// The L1's rules, driven block by block in process.
@Suite struct L1StoreTests {
    let genesis = try! l1Genesis().parsed()
    var alpha: RollupParameters { genesis.rollups[0] }

    /// A blob the L1 accepts for heights `first…last`: a frame whose stated content holds that many
    /// minimal blocks (it need not decode: the L1 does not decode blobs).
    func post(_ store: L1Store, seq: UInt64, first: UInt64, last: UInt64) throws -> L1Transaction {
        let frame = try frame(blocks: Int(last - first + 1))
        return .postBlob(
            BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: seq, firstHeight: first, lastHeight: last), frame: frame,
                signedBy: DevKeys.key(named: alpha.batcher.name)))
    }

    /// A zstd frame of `n` minimal blocks of rollup 0 (content 5 + 224·n bytes, room for exactly `n`
    /// blocks): it never decodes as alpha's batch, so its heights derive as empty blocks.
    func frame(blocks n: Int) throws -> [UInt8] {
        let empty = BlockHeader(
            rollup: RollupID(0), height: 0, parent: .zero, l1Origin: .none, timestamp: 0, transactionsRoot: .zero,
            stateRoot: .zero, outboxRoot: .zero, receiptsRoot: .zero)
        return try BatchCodec.encode(Array(repeating: Block(header: empty, transactions: []), count: n), level: 1)
    }

    /// An output of alpha at `height`, built on the newest standing output `store` holds now (or on
    /// `parent`).
    func propose(_ height: UInt64, by name: String, on store: L1Store, parent: Hash? = nil) throws -> L1Transaction {
        .proposeOutput(
            OutputProposal(
                output: Output(
                    rollup: alpha.id, l2Height: height, blockHash: Hash.sha256([UInt8(height)]), stateRoot: .zero,
                    outboxRoot: .zero),
                parent: try parent ?? store.standing(alpha.id).latest?.output.root ?? .zero,
                signedBy: DevKeys.key(named: name)))
    }

    @discardableResult
    func block(_ store: L1Store, _ txs: [L1Transaction]) throws -> [Result<L1Outcome, L1Rejection>] {
        try store.produceBlock(txs, timestamp: 0).results
    }

    @Test func bondsWindowsAndThePermissionlessFallbackAfterSilence() throws {
        let dir = try TemporaryDirectory("l1-store")
        let store = try L1Store(datadir: dir.path, genesis: genesis)
        let proposer = DevKeys.key(named: alpha.proposer.name).address
        let stranger = alpha.challenger.name
        let initial = try store.balance(of: proposer)
        #expect(initial == 5000)
        // Block 1: a blob covering 1…20 and the registered proposer's output at 10.
        let r1 = try block(store, [try post(store, seq: 0, first: 1, last: 20), try propose(10, by: alpha.proposer.name, on: store)])
        guard case .success(.output(let index, let l1Height, let windowEnd)) = r1[1] else {
            Issue.record("output refused: \(r1[1])")
            return
        }
        #expect(index == 0 && l1Height == 1 && windowEnd == 4)
        #expect(try store.balance(of: proposer) == initial - 5)
        // Block 2: a stranger may not propose yet (silence counts from block 1: open at 1 + 4 = 5).
        let refused = try block(store, [try propose(20, by: stranger, on: store)])
        guard case .failure(let rejection) = refused[0] else {
            Issue.record("a stranger proposed during the registered proposer's turn")
            return
        }
        #expect(rejection.code == L1ErrorCode.unauthorized)
        #expect(rejection.message.contains("from L1 height 5"))
        // A key without bond money cannot propose even when anyone may.
        try block(store, [])  // 3
        let noMoney = try block(store, [try propose(20, by: "nobody", on: store)])  // 4: still closed
        if case .failure(let r) = noMoney[0] {
            #expect(r.code == L1ErrorCode.unauthorized)
        } else {
            Issue.record("a stranger proposed before the silence ran out")
        }
        // Block 4 closed output 0's window: final, the bond is back.
        #expect(try store.outputs(rollup: alpha.id, from: 0, limit: 10)[0].status(atL1Height: 4) == .finalized)
        #expect(try store.balance(of: proposer) == initial)
        // Block 5: after 4 blocks of silence anyone with a bond may propose; a key without one may not.
        let open = try block(store, [try propose(20, by: "nobody", on: store), try propose(20, by: stranger, on: store)])
        if case .failure(let r) = open[0] {
            #expect(r.code == L1ErrorCode.insufficientBond)
        } else {
            Issue.record("a proposer without bond money was accepted")
        }
        guard case .success(.output(let strangerIndex, _, _)) = open[1] else {
            Issue.record("the fallback proposer was refused: \(open[1])")
            return
        }
        #expect(strangerIndex == 1)
        // Heights only go up; and not beyond DA.
        let stale = try block(store, [try propose(20, by: alpha.proposer.name, on: store), try propose(30, by: alpha.proposer.name, on: store)])
        if case .failure(let r) = stale[0] {
            #expect(r.code == L1ErrorCode.outputRejected)
        } else {
            Issue.record("an output at an already proposed height was accepted")
        }
        if case .failure(let r) = stale[1] {
            #expect(r.message.contains("not in DA yet"))
        } else {
            Issue.record("an output beyond DA was accepted")
        }
        // Every block lists exactly what it accepted; the chain links.
        var parent = try #require(try store.block(at: 0)).header.hash
        for h in 1...6 as ClosedRange<UInt64> {
            let (header, body) = try #require(try store.block(at: h))
            #expect(header.parent == parent)
            #expect(header.entriesRoot == MerkleList.root(body.entries.map(\.id)))
            parent = header.hash
        }
        #expect(try store.block(at: 1)!.body.entries.count == 2)
        #expect(try store.block(at: 2)!.body.entries.isEmpty)
        #expect(try store.block(at: 5)!.body.entries.count == 1)
    }

    @Test func aReopenedStoreResumesAndRefusesAnotherGenesis() throws {
        let dir = try TemporaryDirectory("l1-store")
        do {
            let store = try L1Store(datadir: dir.path, genesis: genesis)
            try block(store, [try post(store, seq: 0, first: 1, last: 5)])
            try block(store, [])
        }
        let reopened = try L1Store(datadir: dir.path, genesis: genesis)
        #expect(try reopened.head().height == 2)
        #expect(try reopened.rollupState(alpha.id)?.daHeight == 5)
        var other = genesis
        other.l1.bond = 6
        #expect(throws: (any Error).self) { try L1Store(datadir: dir.path, genesis: other) }
    }

    /// A store written before output records carried signatures (no layout key) is refused with
    /// an error that says what to do, not misread.
    @Test func aStoreOfAnOlderLayoutIsRefusedClearly() throws {
        let dir = try TemporaryDirectory("l1-store")
        do {
            let store = try L1Store(datadir: dir.path, genesis: genesis)
            try store.environment.write { txn in _ = try txn.delete(L1Meta.self, L1Meta.layout) }
        }
        #expect(throws: ChainError.otherLayout(found: 1, expected: L1Meta.currentLayout)) {
            try L1Store(datadir: dir.path, genesis: genesis)
        }
    }
}

/// Issue 13 finding 5: one signed blob must not be able to kill the L1.
extension L1StoreTests {
    func rejection(_ result: Result<L1Outcome, L1Rejection>) -> L1Rejection? {
        if case .failure(let r) = result { return r }
        return nil
    }

    /// A header claiming blocks 1 … 2^64 − 1 over a small frame used to be accepted and leave DA height
    /// 2^64 − 1, so the next post trapped on `daHeight + 1`. It is refused (badBlob: more blocks than
    /// the frame can hold), the L1 goes on producing blocks, and the honest next blob is accepted.
    @Test func anAbsurdBlockCountIsRefusedAndTheNextBlobIsAccepted() throws {
        let dir = try TemporaryDirectory("l1-absurd")
        let store = try L1Store(datadir: dir.path, genesis: genesis)
        let batcher = DevKeys.key(named: alpha.batcher.name)
        let absurd = L1Transaction.postBlob(
            BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: 0, firstHeight: 1, lastHeight: UInt64.max),
                frame: try frame(blocks: 18), signedBy: batcher))
        #expect(throws: L1Rejection.self) { try store.precheck(absurd) }
        let refused = try #require(rejection(try block(store, [absurd])[0]))
        #expect(refused.code == L1ErrorCode.badBlob)
        #expect(refused.message.contains("at most 18 blocks fit"), "\(refused.message)")
        #expect(try store.rollupState(alpha.id)?.daHeight == 0)
        // One block over the frame's capacity is refused too; exactly its capacity is accepted.
        let frame = try frame(blocks: 5)
        let over = L1Transaction.postBlob(
            BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: 0, firstHeight: 1, lastHeight: 6), frame: frame,
                signedBy: batcher))
        #expect(rejection(try block(store, [over])[0])?.code == L1ErrorCode.badBlob)
        let honest = try block(store, [try post(store, seq: 0, first: 1, last: 5)])
        guard case .success(.blob(_, let l1Height, false)) = honest[0] else {
            Issue.record("the honest blob was refused: \(honest[0])")
            return
        }
        #expect(l1Height == 3)
        #expect(try store.rollupState(alpha.id)?.daHeight == 5)
        #expect(try store.head().height == 3)
    }

    /// A store that accepted such a header before the bound holds DA height 2^64 − 1: posts for that
    /// rollup are refused with the reason (no trap), also after a reopen, and the L1 keeps going.
    @Test func aPoisonedDAHeightRefusesPostsInsteadOfTrapping() throws {
        let dir = try TemporaryDirectory("l1-poisoned")
        do {
            let store = try L1Store(datadir: dir.path, genesis: genesis)
            try store.environment.write { txn in
                var state = try #require(try txn.get(L1Rollups.self, alpha.id))
                state.nextSeq = 1
                state.daHeight = UInt64.max
                try txn.put(L1Rollups.self, alpha.id, state)
            }
        }
        let store = try L1Store(datadir: dir.path, genesis: genesis)
        let batcher = DevKeys.key(named: alpha.batcher.name)
        let frame = try frame(blocks: 1)
        for first in [UInt64.max, 1] {
            let next = L1Transaction.postBlob(
                BlobPost(
                    header: BatchHeader(rollup: alpha.id, seq: 1, firstHeight: first, lastHeight: first),
                    frame: frame, signedBy: batcher))
            let refused = try #require(rejection(try block(store, [next])[0]))
            #expect(refused.code == L1ErrorCode.outOfOrder)
            #expect(refused.message.contains("DA height is 2^64 − 1"), "\(refused.message)")
        }
        #expect(try store.head().height == 2)
        // Outputs below the poisoned height still work: nothing else overflows.
        guard case .success(.output) = try block(store, [try propose(7, by: alpha.proposer.name, on: store)])[0] else {
            Issue.record("an output under the poisoned DA height was refused")
            return
        }
    }

    /// A proposal names the output it builds on: one built before another output was accepted above
    /// its parent (a liar racing an honest proposer) is refused, takes no bond and changes nothing —
    /// it never lands above an output its proposer did not check, to fall with it.
    @Test func aProposalBuiltOnAStaleParentIsRefusedAndChangesNothing() throws {
        let dir = try TemporaryDirectory("l1-parent")
        let store = try L1Store(datadir: dir.path, genesis: genesis)
        let proposer = DevKeys.key(named: alpha.proposer.name).address
        try block(store, [try post(store, seq: 0, first: 1, last: 20), try propose(10, by: alpha.proposer.name, on: store)])
        let first = try #require(try store.standing(alpha.id).latest)
        // Built on "no output" although output 0 stands now; and on a root nobody proposed.
        let balance = try store.balance(of: proposer)
        for parent in [Hash.zero, Hash.sha256([42])] {
            let results = try block(store, [try propose(15, by: alpha.proposer.name, on: store, parent: parent)])
            guard case .failure(let r) = results[0] else {
                Issue.record("a proposal on parent \(parent) was accepted above output 0")
                return
            }
            #expect(r.code == L1ErrorCode.staleParent, "\(r)")
            #expect(r.message.contains("newest standing output of alpha is 0"), "\(r.message)")
        }
        #expect(try store.balance(of: proposer) == balance)
        #expect(try store.outputs(rollup: alpha.id, from: 0, limit: 10).count == 1)
        // On the right parent it is accepted and records the parent it was signed over.
        guard case .success(.output(let index, _, _)) = try block(store, [try propose(15, by: alpha.proposer.name, on: store)])[0]
        else {
            Issue.record("a proposal on the newest standing output was refused")
            return
        }
        let second = try #require(try store.outputs(rollup: alpha.id, from: index, limit: 1).first)
        #expect(second.parent == first.output.root)
    }

    /// Returning a bond to a balance near 2^64 − 1 saturates instead of wrapping to a small number.
    @Test func aCreditSaturatesInsteadOfWrapping() throws {
        let dir = try TemporaryDirectory("l1-credit")
        let store = try L1Store(datadir: dir.path, genesis: genesis)
        let proposer = DevKeys.key(named: alpha.proposer.name).address
        try block(store, [try post(store, seq: 0, first: 1, last: 10), try propose(10, by: alpha.proposer.name, on: store)])
        try store.environment.write { txn in try txn.put(Balances.self, proposer, UInt64.max - 1) }
        for _ in 0..<3 { try block(store, []) }  // the window (3 blocks) closes: the bond of 5 comes back
        #expect(try store.outputs(rollup: alpha.id, from: 0, limit: 1)[0].status(atL1Height: 4) == .finalized)
        #expect(try store.balance(of: proposer) == UInt64.max)
    }
}

/// Issue 13 finding 7a/7b: challenges cost a bond, a lost one is listed and burns it, and the L1
/// adjudicates at most `maxChallengesPerBlock` per block.
extension L1StoreTests {
    /// A `block` proof (tag 0) of a height above the output, with an empty witness: the Adjudicator
    /// rejects it as out of range.
    func outOfRange(_ height: UInt64) throws -> FraudProof {
        try FraudProof(canonicalBytes: [0] + height.canonicalBytes + [0])
    }

    var bondedGenesis: Genesis {
        var g = genesis
        g.l1.challengeBond = 2
        g.l1.maxChallengesPerBlock = 2
        return g
    }

    @Test func theChallengeBondDefaultsToATenthOfTheOutputBondAndEntersTheDigest() throws {
        let g = try l1Genesis(bond: 1000).parsed()
        #expect(g.l1.challengeBond == 100)
        #expect(g.l1.maxChallengesPerBlock == 4)
        var other = g
        other.l1.challengeBond = 101
        #expect(try L1Store.genesisDigest(g) != L1Store.genesisDigest(other))
        other = g
        other.l1.maxChallengesPerBlock = 5
        #expect(try L1Store.genesisDigest(g) != L1Store.genesisDigest(other))
    }

    @Test func aRejectedChallengeBurnsItsBondAndIsListedAWonOneKeepsIt() throws {
        let dir = try TemporaryDirectory("l1-challenge-bond")
        let store = try L1Store(datadir: dir.path, genesis: bondedGenesis)
        let challenger = DevKeys.key(named: alpha.challenger.name)
        let initial = try store.balance(of: challenger.address)
        // Blobs that do not decode: their blocks are empty blocks, which the output does not claim.
        try block(store, [try post(store, seq: 0, first: 1, last: 10), try propose(10, by: alpha.proposer.name, on: store)])
        func challenge(_ proof: FraudProof, by key: SigningKey = challenger) -> L1Transaction {
            .challenge(Challenge(rollup: alpha.id, outputIndex: 0, proof: proof, signedBy: key))
        }
        // Out of range: judged and rejected. The submitter hears why and that the bond is gone.
        let wrong = challenge(try outOfRange(99))
        let lost = try block(store, [wrong])
        guard case .success(let outcome) = lost[0], case .challengeLost(let id, let l1Height, let reason, 2) = outcome
        else {
            Issue.record("the wrong challenge was not recorded as lost: \(lost[0])")
            return
        }
        #expect(reason.contains("outside the output's disputable range"))
        let told = try #require(outcome.lostChallengeRejection)
        #expect(told.code == L1ErrorCode.challengeRejected)
        #expect(told.message.hasPrefix("challenge rejected: block 99 is outside"))
        #expect(told.message.contains("its bond of 2 was forfeited"))
        #expect(try store.balance(of: challenger.address) == initial - 2)
        let body = try #require(try store.block(at: l1Height)).body
        guard case .lostChallenge(id, alpha.id, 0, "block", challenger.publicKey, 2) = body.entries.first else {
            Issue.record("the block does not list the lost challenge: \(body.entries)")
            return
        }
        #expect(try store.outputs(rollup: alpha.id, from: 0, limit: 1)[0].isInvalidated == false)
        // In the next block (the window is 3 blocks): a key without the bond is refused before any work
        // and changes nothing (not listed); a right challenge keeps its bond and is paid the output's.
        let mallory = DevKeys.key(named: "mallory")
        let next = try block(store, [challenge(.notInDA, by: mallory), challenge(.output)])
        let poor = try #require(rejection(next[0]))
        #expect(poor.code == L1ErrorCode.insufficientBond)
        #expect(poor.message.contains("a challenge needs a bond of 2"), "\(poor.message)")
        guard case .success(.challenge(_, _, _, 1, 5)) = next[1] else {
            Issue.record("the right challenge did not win: \(next[1])")
            return
        }
        let entries = try #require(try store.block(at: try store.head().height)).body.entries
        #expect(entries.count == 1)
        #expect(try store.balance(of: mallory.address) == 0)
        #expect(try store.balance(of: challenger.address) == initial - 2 + 5)
    }

    @Test func theL1AdjudicatesAtMostTheCapOfChallengesPerBlock() throws {
        let dir = try TemporaryDirectory("l1-challenge-cap")
        let store = try L1Store(datadir: dir.path, genesis: bondedGenesis)
        let challenger = DevKeys.key(named: alpha.challenger.name)
        try block(store, [try post(store, seq: 0, first: 1, last: 10), try propose(10, by: alpha.proposer.name, on: store)])
        let initial = try store.balance(of: challenger.address)
        let wrongs = try (0..<4).map { i in
            L1Transaction.challenge(
                Challenge(
                    rollup: alpha.id, outputIndex: 0, proof: try outOfRange(100 + UInt64(i)), signedBy: challenger))
        }
        // Refusals before the work (no bond, no such output) do not count against the cap.
        let unknown = L1Transaction.challenge(
            Challenge(rollup: alpha.id, outputIndex: 9, proof: .notInDA, signedBy: challenger))
        let results = try block(store, [unknown] + wrongs)
        #expect(rejection(results[0])?.code == L1ErrorCode.notFound)
        for r in results[1...2] {
            guard case .success(.challengeLost) = r else {
                Issue.record("a challenge under the cap was not adjudicated: \(r)")
                continue
            }
        }
        for r in results[3...4] {
            let refused = try #require(rejection(r))
            #expect(refused.code == L1ErrorCode.challengeCapReached)
            #expect(refused.message.contains("at most 2 challenges per block; resubmit"))
        }
        #expect(try store.balance(of: challenger.address) == initial - 4)
        #expect(try store.block(at: 2)?.body.entries.count == 2)
        // Resubmitted in the next block, they are adjudicated.
        let next = try block(store, Array(wrongs[2...3]))
        #expect(next.allSatisfy { if case .success(.challengeLost) = $0 { true } else { false } })
    }
}
