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
import Synchronization
import Testing
import TributaryTesting

/// A fast genesis for L1 tests: 150 ms L1 blocks, alpha blocks every 100 ms, an output every 10
/// blocks, batches closed after 300 ms. Processes take their ports from `--rpc-port 0`.
func fastGenesis(
    _ dir: TemporaryDirectory, window: Int = 20, silence: Int = 10_000, maxBlob: Int = 1 << 20,
    name: String = "genesis.json", _ customize: (inout GenesisBuilder) -> Void = { _ in }
) throws -> String {
    // Two rollups; the tests start nodes with `--rpc-port 0` and `--l1`, so the genesis ports are
    // placeholders.
    var builder = GenesisBuilder(rollups: 2, basePort: 2, l1Port: 1)
    builder.l1.blockTimeMs = 150
    builder.l1.fraudWindowBlocks = window
    builder.l1.proposerSilenceBlocks = silence
    builder.l1.extra["maxBlobBytes"] = .number(maxBlob)
    builder.eachRollup {
        $0.blockTimeMs = 100
        $0.batchMaxAgeMs = 300
    }
    customize(&builder)
    let path = dir.appending(name)
    try builder.write(to: path)
    return path
}

func startL1(_ dir: TemporaryDirectory, genesis: String, name: String = "l1") throws -> NodeProcess {
    try NodeProcess(
        ["l1", "--genesis", genesis, "--datadir", dir.appending(name), "--rpc-port", "0"],
        logPath: dir.appending("\(name).log"))
}

func startRollup(
    _ dir: TemporaryDirectory, genesis: String, l1: String, name: String = "alpha", follow: Bool = false,
    extra: [String] = []
) throws -> NodeProcess {
    try NodeProcess(
        [
            "node", "--genesis", genesis, follow ? "--follow" : "--rollup", "alpha", "--datadir", dir.appending(name),
            "--rpc-port", "0", "--l1", l1,
        ] + extra,
        logPath: dir.appending("\(name).log"))
}

/// Sends `count` transfers back to back from dev accounts 0…3 in turn (on the one load generator,
/// nonces from and back into `nonces`, by account) through `rpc`, to dev accounts 4…9 with amounts
/// drawn from `seed`; returns their ids in order. The first refusal throws.
func sendTransfers(_ rpc: RPCClient, count: Int, seed: UInt64, nonces: inout [Int: UInt64]) async throws -> [Hash] {
    var rng = SplitMix64(seed: seed)
    let plan = (0..<count).map { _ in
        (to: DevKeys.account(4 + Int(rng.next() % 6)).address, amount: 1 + rng.next() % 1000)
    }
    let senders = (0..<4).map {
        LoadGenerator.Sender(
            rollup: RollupID(1), key: DevKeys.account($0), transport: rpc, nonce: nonces[$0, default: 0])
    }
    let ids = Mutex<[Hash]>([])
    let load = LoadGenerator(
        senders: senders, pacing: .count(count), fee: 200, stopsAtRefusal: true,
        observer: { if case .accepted(let s, _) = $0 { ids.withLock { $0.append(s.id) } } }
    ) { slot in .transfer(to: plan[slot.number].to, asset: ALPHA, amount: plan[slot.number].amount) }
    try await load.run()
    for (account, next) in load.nextNonces.enumerated() { nonces[account] = next }
    return ids.withLock { $0 }
}

func outputs(_ l1: L1Client, _ rollup: UInt32 = 1) async throws -> [L1Output] {
    try await l1.outputs(rollup: RollupID(rollup))
}

func header(_ rpc: RPCClient, _ height: UInt64) async throws -> JSONValue {
    try await rpc.call(RollupMethod.getBlock, [.number(height)])
}

@Suite(.serialized) struct L1Tests {
    /// L1 + alpha: outputs finalize after the window; a fresh follower derives exactly alpha's
    /// chain from the L1 alone; a sequencer on an empty datadir syncs its own rollup from DA.
    @Test func honestOutputsFinalizeAndTheL1AloneRebuildsTheChain() async throws {
        let dir = try TemporaryDirectory("l1-honest")
        if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] != nil { print("test dir: \(dir.path)") }
        let genesis = try fastGenesis(dir, window: 10)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        let alpha = RPCClient(url: alphaNode.url)
        let l1 = L1Client(url: l1Node.url)
        var nonces: [Int: UInt64] = [:]
        let ids = try await sendTransfers(alpha, count: 200, seed: 1, nonces: &nonces)
        // Every transfer included, then an output above them finalized.
        var lastTxHeight: UInt64 = 0
        #expect(
            try await eventually(30) {
                for id in ids {
                    guard
                        let h = try await alpha.call(RollupMethod.getReceipt, [.string(id.hex)])["blockHeight"]?
                            .unsignedValue
                    else { return false }
                    lastTxHeight = max(lastTxHeight, h)
                }
                return true
            })
        #expect(
            try await eventually(60) {
                try await outputs(l1).contains { $0.status == .finalized && $0.output.l2Height >= lastTxHeight }
            })
        let all = try await outputs(l1)
        #expect(all.allSatisfy { $0.status != .invalidated })
        // Every output names exactly alpha's block at its height.
        for o in all {
            let h = try await header(alpha, o.output.l2Height)
            #expect(h["hash"]?.stringValue == o.output.blockHash.hex)
            #expect(h["stateRoot"]?.stringValue == o.output.stateRoot.hex)
        }
        // Outputs every 10 blocks, in order.
        #expect(all.map(\.output.l2Height) == (1...UInt64(all.count)).map { $0 * 10 })

        // The client: `outputs` and `l1 status`, as tables and as JSON.
        let table = try TributaryBinary.run(["outputs", "--rollup", "alpha", "--l1", l1Node.url, "--genesis", genesis])
        #expect(table.status == 0)
        #expect(table.output.contains("L2 height") && table.output.contains("finalized"), "\(table.output)")
        let json = try TributaryBinary.run(["outputs", "--rollup", "1", "--l1", l1Node.url, "--json"])
        #expect(try JSONValue.parse(Data(json.stdout)).arrayValue?.count ?? 0 >= all.count)
        let l1Status = try TributaryBinary.run(["l1", "status", "--l1", l1Node.url])
        #expect(l1Status.output.contains("alpha") && l1Status.output.contains("fraud window 10 blocks"))

        // A fresh follower derives the same chain: same hashes and state roots, height by height.
        let followerNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "follower", follow: true)
        let follower = RPCClient(url: followerNode.url)
        let daHeight = try #require(try await l1.status().rollup(RollupID(1))?.daHeight)
        #expect(daHeight >= lastTxHeight)
        #expect(
            try await eventually(30) {
                (try await follower.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= daHeight
            })
        for h in [UInt64(1), lastTxHeight / 2, lastTxHeight, daHeight] {
            let mine = try await header(follower, h), theirs = try await header(alpha, h)
            #expect(mine["hash"] == theirs["hash"], "block \(h)")
            #expect(mine["stateRoot"] == theirs["stateRoot"], "block \(h)")
        }
        for id in ids.prefix(20) {
            let r = try await follower.call(RollupMethod.getReceipt, [.string(id.hex)])
            #expect(r["success"]?.boolValue == true)
        }
        // A follower takes no transactions.
        let tx = signedTransfer(DevKeys.account(9), nonce: 0, to: DevKeys.account(8).address, amount: 1)
        await #expect(throws: RPCError.self) { try await follower.call(RollupMethod.sendTransaction, [hexParam(tx)]) }
        let status = try await follower.call(RollupMethod.status)
        #expect(status["mode"]?.stringValue == "follower")
        #expect(status["l1"]?["firstFault"] == nil)
        #expect(followerNode.stop() == 0)

        // A sequencer started on an empty datadir syncs its own rollup from the L1 first.
        #expect(alphaNode.stop() == 0)
        let posted = try #require(try await l1.status().rollup(RollupID(1))?.daHeight)
        let stopped = try ChainStore.open(datadir: dir.appending("alpha"), genesis: Genesis.load(path: genesis))
        let expected = try #require(try stopped.header(at: posted))
        let resyncedNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "alpha-resynced")
        defer { resyncedNode.stop() }
        let resynced = RPCClient(url: resyncedNode.url)
        #expect((try await resynced.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= posted)
        #expect(try await header(resynced, posted)["hash"]?.stringValue == expected.hash.hex)
        #expect(resyncedNode.stop() == 0)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(l1Node.stop() == 0)
        print("l1 stop took \(clock.now - start)")
    }

    /// L1 + alpha claiming a wrong root from block 15 + an honest follower: the follower's
    /// challenge wins inside the window, the false output and every later one are invalidated,
    /// the bond pays the challenger, an honest output for the range finalizes, no transaction is
    /// lost.
    @Test func aFalseStateRootLosesToTheFollowersChallenge() async throws {
        let dir = try TemporaryDirectory("l1-fraud")
        let genesis = try fastGenesis(dir, window: 25)
        let parameters = try Genesis.load(path: genesis)
        let rollup = try #require(parameters.rollup(named: "alpha"))
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let l1 = L1Client(url: l1Node.url)
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, extra: ["--fault", "state-root-at=15"])
        defer { alphaNode.stop() }
        let followerNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "follower", follow: true)
        defer { followerNode.stop() }
        let alpha = RPCClient(url: alphaNode.url), follower = RPCClient(url: followerNode.url)
        var nonces: [Int: UInt64] = [:]
        var ids = try await sendTransfers(alpha, count: 50, seed: 2, nonces: &nonces)
        #expect(try await eventually(30) { (try await alpha.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= 20 })
        ids += try await sendTransfers(alpha, count: 50, seed: 3, nonces: &nonces)

        // The false output is invalidated by a won challenge before its window closed.
        var invalidated: [L1Output] = []
        #expect(
            try await eventually(60) {
                invalidated = try await outputs(l1).filter { $0.status == .invalidated }
                return !invalidated.isEmpty
            })
        let status = try await l1.status()
        #expect(status.rollup(RollupID(1))?.brokenAt == 15)
        let first = try #require(invalidated.first)
        #expect(first.output.l2Height >= 15)
        let raw = try await l1.rpc.call(L1Method.getOutputs, [.number(1), .number(first.index), .number(1)])
        let record = try #require(raw.arrayValue?.first)
        // The record carries the parent, the proposer's key and signature, and the signature verifies.
        let proposal = OutputProposal(
            output: first.output, parent: try Hash(hex: try #require(record["parent"]?.stringValue)),
            proposer: try PublicKey(hex: try #require(record["proposer"]?.stringValue)),
            signature: try Signature(hex: try #require(record["signature"]?.stringValue)))
        #expect(proposal.hasValidSignature)
        let challengedAt = try #require(record["invalidatedAt"]?.unsignedValue)
        #expect(challengedAt < first.windowEnd)
        let challenge = try await l1.rpc.call(L1Method.getChallenge, [record["invalidatedBy"] ?? .null])
        #expect(challenge["kind"]?.stringValue == "block")
        #expect(challenge["payout"]?.unsignedValue == parameters.l1.bond)
        #expect(challenge["challenger"]?.stringValue == rollup.challenger.publicKey.hex)
        let reason = challenge["reason"]?.stringValue ?? ""
        #expect(reason.contains("DA block 15 is not what the block rule gives: state root"), "\(reason)")
        // Every output the faulty proposer had standing from the false one on is invalidated.
        let afterChallenge = try await outputs(l1)
        for o in afterChallenge where o.index >= first.index && o.l1Height < challengedAt {
            #expect(o.status == .invalidated, "output \(o.index)")
        }

        // An honest output for the same range finalizes afterwards, matching the follower's chain.
        var honest: L1Output?
        #expect(
            try await eventually(90) {
                honest = try await outputs(l1).first {
                    $0.status == .finalized && $0.output.l2Height >= first.output.l2Height
                }
                return honest != nil
            })
        if let honest {
            #expect(honest.proposer == rollup.challenger.publicKey)
            let mine = try await header(follower, honest.output.l2Height)
            #expect(mine["hash"]?.stringValue == honest.output.blockHash.hex)
            #expect(mine["stateRoot"]?.stringValue == honest.output.stateRoot.hex)
        }
        // The bond money adds up: the proposer lost one bond per invalidated output and holds one
        // per pending output; the challenger won the challenged output's bond.
        // The outputs and the balance are two reads; the faulty proposer keeps proposing, so the
        // pair is taken again until no output was added or settled between them.
        let bond = parameters.l1.bond, initial = bond * 1000
        let proposerKey = rollup.proposer.publicKey
        func held(_ outputs: [L1Output]) -> [String] {
            outputs.filter { $0.proposer == proposerKey }.map { "\($0.index):\($0.status)" }
        }
        var consistent: (lost: UInt64, balance: UInt64?)?
        for _ in 0..<20 where consistent == nil {
            let before = try await outputs(l1)
            let balance = try await l1.rpc.call(L1Method.getBalance, [.string(proposerKey.address.hex)]).unsignedValue
            let after = try await outputs(l1)
            guard held(before) == held(after) else { continue }
            let lost = UInt64(after.filter { $0.proposer == proposerKey && $0.status != .finalized }.count) * bond
            consistent = (lost, balance)
        }
        let money = try #require(consistent, "the proposer's outputs never stood still for two reads")
        #expect(money.balance == initial - money.lost)

        // No user transaction is lost: every one is in the follower's canonical chain.
        #expect(
            try await eventually(30) {
                for id in ids {
                    let r = try await follower.call(RollupMethod.getReceipt, [.string(id.hex)])
                    guard r["success"]?.boolValue == true else { return false }
                }
                return true
            })
        #expect(followerNode.stop() == 0)
        #expect(alphaNode.stop() == 0)
        #expect(l1Node.stop() == 0)
    }
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

@Suite(.serialized) struct L1OutageTests {
    /// The L1 is killed with SIGKILL while alpha runs: alpha keeps sequencing, its batcher retries,
    /// and after the L1 restarts on its datadir every acknowledged blob and output is still there,
    /// the queued blocks get posted, and a follower derives exactly alpha's chain.
    @Test func theL1KilledMidRunLosesNothingAndBatchesCatchUp() async throws {
        let dir = try TemporaryDirectory("l1-outage")
        let genesis = try fastGenesis(dir, window: 10)
        let port = try freePort()
        func l1() throws -> NodeProcess {
            try NodeProcess(
                ["l1", "--genesis", genesis, "--datadir", dir.appending("l1"), "--rpc-port", "\(port)"],
                logPath: dir.appending("l1-\(Date().timeIntervalSince1970).log"))
        }
        var l1Node = try l1()
        let client = L1Client(url: l1Node.url)
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url)
        var nonces: [Int: UInt64] = [:]
        var ids = try await sendTransfers(alpha, count: 50, seed: 11, nonces: &nonces)
        #expect(try await eventually(30) { try await outputs(client).count >= 2 })
        let before = try await client.status()
        let outputsBefore = try await outputs(client)
        let blobBefore = try await client.rpc.call(L1Method.getBlob, [.number(1), .number(0)])

        l1Node.kill()
        // Alpha keeps sequencing (and accepting transactions) while the L1 is down.
        ids += try await sendTransfers(alpha, count: 50, seed: 12, nonces: &nonces)
        try await Task.sleep(for: .seconds(2))
        let headDuringOutage = try #require(try await alpha.call(RollupMethod.blockNumber).unsignedValue)
        #expect(headDuringOutage > before.rollup(RollupID(1))!.daHeight)

        l1Node = try l1()
        defer { l1Node.stop() }
        let after = try await client.status()
        #expect(after.height >= before.height)
        #expect(after.rollup(RollupID(1))!.daHeight >= before.rollup(RollupID(1))!.daHeight)
        let outputsAfter = try await outputs(client)
        #expect(Array(outputsAfter.prefix(outputsBefore.count)).map(\.output) == outputsBefore.map(\.output))
        #expect(try await client.rpc.call(L1Method.getBlob, [.number(1), .number(0)]) == blobBefore)
        // The queued blocks are posted once the L1 is back.
        #expect(
            try await eventually(30) {
                (try await client.status().rollup(RollupID(1))?.daHeight ?? 0) >= headDuringOutage
            })
        // A follower derives exactly alpha's chain, with every transaction.
        let followerNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "follower", follow: true)
        defer { followerNode.stop() }
        let follower = RPCClient(url: followerNode.url)
        #expect(
            try await eventually(30) {
                (try await follower.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= headDuringOutage
            })
        #expect(try await header(follower, headDuringOutage)["hash"] == header(alpha, headDuringOutage)["hash"])
        #expect(
            try await eventually(30) {
                for id in ids {
                    guard try await follower.call(RollupMethod.getReceipt, [.string(id.hex)])["success"]?.boolValue == true
                    else { return false }
                }
                return true
            })
        #expect(followerNode.stop() == 0)
        #expect(alphaNode.stop() == 0)
        #expect(l1Node.stop() == 0)
    }
}
