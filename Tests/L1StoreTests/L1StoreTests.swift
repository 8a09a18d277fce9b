import Config
import Foundation
import L1
import Primitives
import Settlement
import Testing
import TributaryTesting

let genesisJSON = """
    {"l1": {"rpc": "http://127.0.0.1:1", "blockTimeMs": 1000, "fraudWindowBlocks": 3, "bond": 5, "proposerSilenceBlocks": 4},
     "rollups": [{"id": 1, "name": "alpha", "rpc": "http://127.0.0.1:2", "blockTimeMs": 200, "maxBlockTransactions": 1000,
       "batch": {"maxBytes": 65536, "maxBlocks": 10, "maxAgeMs": 1000}, "outputIntervalBlocks": 10,
       "nativeAsset": {"name": "ALPHA", "supply": 1000000000000}, "devAccounts": {"count": 4, "balance": 1000000}}]}
    """

/// The L1's rules, driven block by block in process.
@Suite struct L1StoreTests {
    let genesis = try! Genesis.parse(Data(genesisJSON.utf8))
    var alpha: RollupParameters { genesis.rollups[0] }

    func post(_ store: L1Store, seq: UInt64, first: UInt64, last: UInt64) throws -> L1Transaction {
        let frame = try BatchCodec.encode([], level: 1)
        return .postBlob(
            BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: seq, firstHeight: first, lastHeight: last), frame: frame,
                signedBy: DevKeys.key(named: alpha.batcher.name)))
    }

    func propose(_ height: UInt64, by name: String) -> L1Transaction {
        .proposeOutput(
            OutputProposal(
                output: Output(
                    rollup: alpha.id, l2Height: height, blockHash: Hash.sha256([UInt8(height)]), stateRoot: .zero,
                    outboxRoot: .zero),
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
        let r1 = try block(store, [try post(store, seq: 0, first: 1, last: 20), propose(10, by: alpha.proposer.name)])
        guard case .success(.output(let index, let l1Height, let windowEnd)) = r1[1] else {
            Issue.record("output refused: \(r1[1])")
            return
        }
        #expect(index == 0 && l1Height == 1 && windowEnd == 4)
        #expect(try store.balance(of: proposer) == initial - 5)
        // Block 2: a stranger may not propose yet (silence counts from block 1: open at 1 + 4 = 5).
        let refused = try block(store, [propose(20, by: stranger)])
        guard case .failure(let rejection) = refused[0] else {
            Issue.record("a stranger proposed during the registered proposer's turn")
            return
        }
        #expect(rejection.code == L1ErrorCode.unauthorized)
        #expect(rejection.message.contains("from L1 height 5"))
        // A key without bond money cannot propose even when anyone may.
        try block(store, [])  // 3
        let noMoney = try block(store, [propose(20, by: "nobody")])  // 4: still closed
        if case .failure(let r) = noMoney[0] {
            #expect(r.code == L1ErrorCode.unauthorized)
        } else {
            Issue.record("a stranger proposed before the silence ran out")
        }
        // Block 4 closed output 0's window: final, the bond is back.
        #expect(try store.outputs(rollup: alpha.id, from: 0, limit: 10)[0].status(atL1Height: 4) == .finalized)
        #expect(try store.balance(of: proposer) == initial)
        // Block 5: after 4 blocks of silence anyone with a bond may propose; a key without one may not.
        let open = try block(store, [propose(20, by: "nobody"), propose(20, by: stranger)])
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
        let stale = try block(store, [propose(20, by: alpha.proposer.name), propose(30, by: alpha.proposer.name)])
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
}
