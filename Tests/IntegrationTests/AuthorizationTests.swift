import API
import Chain
import Compression
import Config
import Foundation
import L1
import L1Chain
import Logging
import Node
import Primitives
import RPC
import Rollup
import Settlement
import StateMachine
import Testing
import TributaryTesting

#if canImport(Glibc)
    import Glibc
#endif

/// An L1 and some rollup nodes of a three-rollup genesis whose every address is fixed (peers find each other through
/// it). The dev seed is NOT the published one, so the seed string is a secret too. Proposers never fall silent long
/// enough for anyone else to propose, and a window of 40 L1 blocks (8 s) keeps outputs pending for a while.
struct AuthNet {
    static let seed = "authorization tests: a seed nobody published"
    /// The one launcher, over a genesis of an unpublished seed (only the test knows the keys).
    let devnet: LocalDevnet
    var dir: TemporaryDirectory { devnet.dir }
    var genesisPath: String { devnet.genesisPath }
    var genesis: Genesis { devnet.genesis }
    var l1: NodeProcess { devnet.l1 }

    init(_ prefix: String, sequencers: [String]) throws {
        var builder = GenesisBuilder(rollups: 3)
        builder.devSeed = Self.seed
        builder.l1.blockTimeMs = 200
        builder.l1.fraudWindowBlocks = 40
        builder.l1.proposerSilenceBlocks = 1_000_000
        builder.l1.extra["maxBlobBytes"] = .number(1_048_576)
        builder.eachRollup {
            $0.blockTimeMs = 200
            $0.batchMaxAgeMs = 400
        }
        var options = LocalDevnet.Options()
        options.start = sequencers
        devnet = try LocalDevnet(prefix, genesis: builder, options: options)
    }

    func rollup(_ name: String) -> RollupParameters { genesis.rollup(named: name)! }
    func key(_ role: RoleKey) -> SigningKey { DevKeys.key(named: role.name, seed: genesis.devSeed) }
    func dev(_ index: Int) -> SigningKey { DevKeys.account(index, seed: genesis.devSeed) }
    func rpc(_ name: String) -> RPCClient { RPCClient(url: rollup(name).rpc) }
    var l1Client: L1Client { L1Client(url: l1.url) }

    /// Every private key the devnet knows: the dev accounts and every rollup's five role keys.
    var secretKeys: [(name: String, key: SigningKey)] {
        var keys = (0..<10).map { ("dev\($0)", dev($0)) }
        for r in genesis.rollups {
            for role in [r.sequencer, r.batcher, r.proposer, r.treasury, r.challenger] {
                keys.append((role.name, key(role)))
            }
        }
        return keys
    }

    func stop() { devnet.stop() }
}

/// One rollup's row of `l1_status`: blobs, DA height and outputs.
func l1Row(_ l1: L1Client, _ name: String) async throws -> [UInt64] {
    let status = try await l1.rpc.call(L1Method.status)
    guard case .array(let rows)? = status["rollups"], let row = rows.first(where: { $0["name"]?.stringValue == name })
    else { return [] }
    return ["blobs", "daHeight", "outputs"].map { row[$0]?.unsignedValue ?? UInt64.max }
}

/// What an authorization test prints about a failure: its code and message, or that the call was accepted.
func describe(_ failure: (code: Int, message: String)?) -> String {
    failure.map { "\($0.code) \($0.message)" } ?? "accepted"
}

@Suite(.serialized) struct AuthorizationTests {
    /// Blobs and outputs signed by any key but the rollup's registered one are refused with -32021 and change
    /// nothing; the registered keys are accepted. Anyone holding the challenge bond may challenge (docs/protocol.md):
    /// a key without it is refused before any work and changes nothing; a wrong challenge is heard, loses, burns
    /// its bond and is listed in its L1 block; a right one wins, keeps its bond and is paid the output's.
    @Test func onlyRegisteredKeysPostBlobsAndOutputs() async throws {
        // gamma has no node: its L1 record moves only when this test moves it.
        let net = try AuthNet("auth-l1", sequencers: ["alpha", "beta"])
        defer { net.stop() }
        let alpha = net.rollup("alpha"), beta = net.rollup("beta"), gamma = net.rollup("gamma")
        let l1 = net.l1Client
        var rng = SplitMix64(seed: 8)
        // Blobs the L1 accepts but that do not decode to batches: their blocks are empty blocks. Their content
        // (1 KiB) has room for the 4 blocks a header may claim (224 bytes each, the L1's bound).
        func frame() throws -> [UInt8] { try Zstd.compress(rng.bytes(1024)) }
        _ = try await l1.postBlob(
            BlobPost(
                header: BatchHeader(rollup: gamma.id, seq: 0, firstHeight: 1, lastHeight: 3), frame: try frame(),
                signedBy: net.key(gamma.batcher)))
        let before = try await l1Row(l1, "gamma")
        #expect(before == [1, 3, 0])

        // Blobs: gamma's next batch signed by everyone but gamma's batcher.
        let next = BatchHeader(rollup: gamma.id, seq: 1, firstHeight: 4, lastHeight: 4)
        let body = try frame()
        let wrongBlobKeys: [(String, SigningKey)] = [
            ("dev0 (a dev account)", net.dev(0)),
            ("alpha's batcher (the right key of another rollup)", net.key(alpha.batcher)),
            ("beta's batcher", net.key(beta.batcher)),
            ("gamma's proposer", net.key(gamma.proposer)), ("gamma's sequencer", net.key(gamma.sequencer)),
            ("gamma's treasury", net.key(gamma.treasury)), ("gamma's challenger", net.key(gamma.challenger)),
        ]
        for (who, key) in wrongBlobKeys {
            let failure = await errorCode {
                _ = try await l1.postBlob(BlobPost(header: next, frame: body, signedBy: key))
            }
            #expect(failure?.code == -32021, "gamma's blob signed by \(who): \(describe(failure))")
            #expect(failure?.message.contains("not signed by gamma's batcher key") == true, "\(describe(failure))")
        }
        // The right key over another rollup id: alpha's batcher signs an alpha header, then the id says gamma.
        var rewritten = BlobPost(
            header: BatchHeader(rollup: alpha.id, seq: 1, firstHeight: 4, lastHeight: 4), frame: body,
            signedBy: net.key(alpha.batcher))
        rewritten.header.rollup = gamma.id
        let rewrittenBlob = await errorCode { _ = try await l1.postBlob(rewritten) }
        #expect(rewrittenBlob?.code == -32021, "alpha's signed blob re-addressed to gamma: \(describe(rewrittenBlob))")
        // A running rollup too: alpha's next batch signed by beta's batcher never takes alpha's sequence number.
        let alphaNext = try #require(try await l1.status().rollup(alpha.id))
        let intruder = BlobPost(
            header: BatchHeader(
                rollup: alpha.id, seq: alphaNext.nextSeq, firstHeight: alphaNext.daHeight + 1,
                lastHeight: alphaNext.daHeight + 1), frame: body, signedBy: net.key(beta.batcher))
        let intrusion = await errorCode { _ = try await l1.postBlob(intruder) }
        #expect(intrusion?.code == -32021, "alpha's blob signed by beta's batcher: \(describe(intrusion))")

        // Outputs: gamma's block 3 (in DA) proposed by everyone but gamma's proposer.
        let output = Output(rollup: gamma.id, l2Height: 3, blockHash: .zero, stateRoot: .zero, outboxRoot: .zero)
        let wrongOutputKeys: [(String, SigningKey)] = [
            ("dev0 (a dev account)", net.dev(0)),
            ("alpha's proposer (the right key of another rollup)", net.key(alpha.proposer)),
            ("beta's proposer", net.key(beta.proposer)), ("gamma's batcher", net.key(gamma.batcher)),
            ("gamma's sequencer", net.key(gamma.sequencer)), ("gamma's challenger", net.key(gamma.challenger)),
        ]
        for (who, key) in wrongOutputKeys {
            let failure = await errorCode {
                _ = try await l1.proposeOutput(OutputProposal(output: output, parent: .zero, signedBy: key))
            }
            #expect(failure?.code == -32021, "gamma's output signed by \(who): \(describe(failure))")
            #expect(failure?.message.contains("only gamma's proposer") == true, "\(describe(failure))")
        }
        var readdressed = OutputProposal(
            output: Output(rollup: alpha.id, l2Height: 3, blockHash: .zero, stateRoot: .zero, outboxRoot: .zero),
            parent: .zero, signedBy: net.key(alpha.proposer))
        readdressed.output.rollup = gamma.id
        let readdressedOutput = await errorCode { _ = try await l1.proposeOutput(readdressed) }
        #expect(
            readdressedOutput?.code == -32021, "alpha's output re-addressed to gamma: \(describe(readdressedOutput))")
        var impersonated = OutputProposal(output: output, parent: .zero, signedBy: net.dev(0))
        impersonated.proposer = gamma.proposer.publicKey
        let impersonation = await errorCode { _ = try await l1.proposeOutput(impersonated) }
        #expect(impersonation?.code == -32021, "dev0 naming gamma's proposer: \(describe(impersonation))")

        // Nothing changed: gamma's blobs, DA height and outputs, and no bond was taken from anyone.
        #expect(try await l1Row(l1, "gamma") == before)
        let bonds = Dictionary(uniqueKeysWithValues: L1Store.genesisBalances(net.genesis).map { ($0.0, $0.1) })
        // alpha's and beta's proposers bond their own rollups' outputs meanwhile (the bond comes back when
        // the window ends): their balances move with their nodes' work, and gamma's record shows none of
        // it reached gamma.
        let proposing = Set([alpha.proposer.publicKey.address, beta.proposer.publicKey.address])
        for (who, key) in wrongOutputKeys where !proposing.contains(key.address) {
            let expected = bonds[key.address] ?? 0
            let balance = try await l1.rpc.call(L1Method.getBalance, [.string(key.address.hex)]).unsignedValue
            #expect(balance == expected, "\(who)'s L1 balance")
        }
        let atIntrudersSeq = try await l1.rpc.call(
            L1Method.getBlob, [.number(alpha.id.rawValue), .number(alphaNext.nextSeq)])
        #expect(atIntrudersSeq["commitment"]?.stringValue != intruder.commitment.hex)

        // The registered keys are accepted, and each moves gamma's record by exactly one.
        _ = try await l1.postBlob(BlobPost(header: next, frame: body, signedBy: net.key(gamma.batcher)))
        let accepted = try await l1.proposeOutput(OutputProposal(output: output, parent: .zero, signedBy: net.key(gamma.proposer)))
        #expect(try await l1Row(l1, "gamma") == [2, 4, 1])

        // dev5 holds nothing on the L1: its challenge is refused for the bond before any work, changes nothing and
        // is not listed. gamma's challenger (1,000 output bonds at genesis) pays: a wrong challenge against alpha's
        // honest output is judged, loses and burns the challenge bond, and its block lists it; a right one against
        // gamma's output (its blobs are not batches, so its blocks are empty ones, which the output does not claim)
        // wins, keeps the bond and is paid the output's.
        let poor = net.dev(5)
        #expect(try await l1.rpc.call(L1Method.getBalance, [.string(poor.address.hex)]).unsignedValue == 0)
        var pending: L1Output?
        #expect(
            try await eventually(60) {
                pending = try await l1.outputs(rollup: alpha.id).first { $0.status == .pending && $0.blocksLeft > 5 }
                return pending != nil
            })
        let target = try #require(pending)
        let unbonded = await errorCode {
            _ = try await l1.challenge(
                Challenge(rollup: alpha.id, outputIndex: target.index, proof: .output, signedBy: poor))
        }
        #expect(unbonded?.code == -32026, "a challenge without the bond: \(describe(unbonded))")
        #expect(unbonded?.message.contains("a challenge needs a bond of") == true, "\(describe(unbonded))")
        #expect(try await l1.rpc.call(L1Method.getBalance, [.string(poor.address.hex)]).unsignedValue == 0)
        let challenger = net.key(gamma.challenger)
        let funded = try #require(
            try await l1.rpc.call(L1Method.getBalance, [.string(challenger.address.hex)]).unsignedValue)
        let challengeBond = net.genesis.l1.challengeBond
        #expect(challengeBond == net.genesis.l1.bond / 10)
        let wrong = Challenge(rollup: alpha.id, outputIndex: target.index, proof: .output, signedBy: challenger)
        var lostData: JSONValue?
        do {
            _ = try await l1.challenge(wrong)
            Issue.record("a wrong challenge was accepted")
        } catch let error as RPCError {
            #expect(error.code == -32028, "\(error)")
            #expect(error.message.hasPrefix("challenge rejected: "), "\(error)")
            #expect(error.message.contains("its bond of \(challengeBond) was forfeited"), "\(error)")
            lostData = error.data
        }
        #expect(try await l1.outputs(rollup: alpha.id).allSatisfy { $0.status != .invalidated })
        #expect(
            try await l1.rpc.call(L1Method.getBalance, [.string(challenger.address.hex)]).unsignedValue
                == funded - challengeBond)
        let lostAt = try #require(lostData?["l1Height"]?.unsignedValue)
        guard case .array(let listed)? = try await l1.rpc.call(L1Method.getBlock, [.number(lostAt)])["transactions"] else {
            Issue.record("no block at \(lostAt)")
            return
        }
        #expect(
            listed.contains {
                $0["type"]?.stringValue == "challenge" && $0["verdict"]?.stringValue == "lost"
                    && $0["challenge"]?.stringValue == wrong.id.hex
                    && $0["bondForfeited"]?.unsignedValue == challengeBond
            }, "\(listed)")
        let won = try await l1.challenge(
            Challenge(rollup: gamma.id, outputIndex: accepted.index, proof: .output, signedBy: challenger))
        #expect(won.payout == net.genesis.l1.bond && won.invalidated >= 1, "\(won)")
        #expect(
            try await l1.rpc.call(L1Method.getBalance, [.string(challenger.address.hex)]).unsignedValue
                == funded - challengeBond + net.genesis.l1.bond)
        #expect(net.l1.stop() == 0)
    }

    /// A transaction signed for alpha is refused by beta's and gamma's nodes (-32002, naming both rollups); the same
    /// bytes with the rollup id rewritten fail the signature check (-32001) on the rollup they now name and are
    /// refused as foreign everywhere else. None of them is ever included anywhere; the original, sent to alpha, is.
    @Test func aTransactionSignedForOneRollupFailsOnEveryOther() async throws {
        let net = try AuthNet("auth-tx", sequencers: ["alpha", "beta", "gamma"])
        defer { net.stop() }
        let rollups = ["alpha", "beta", "gamma"].map { net.rollup($0) }
        let sender = net.dev(3)
        let original = Transaction(
            rollup: rollups[0].id, nonce: 0, sender: sender.publicKey, fee: 1_000,
            call: .transfer(to: net.dev(4).address, asset: AssetName(rawValue: "ALPHA")!, amount: 7)
        ).signed(by: sender)
        func send(_ bytes: [UInt8], to name: String) async -> (code: Int, message: String)? {
            await errorCode {
                _ = try await net.rpc(name).call(RollupMethod.sendTransaction, [.string("0x" + Hex.encode(bytes))])
            }
        }
        let heights = try await withThrowingTaskGroup(of: (String, UInt64).self) { group in
            for r in rollups {
                group.addTask { (r.name, try await net.rpc(r.name).call(RollupMethod.blockNumber).unsignedValue ?? 0) }
            }
            return try await group.reduce(into: [String: UInt64]()) { $0[$1.0] = $1.1 }
        }

        for other in rollups.dropFirst() {
            let failure = await send(original.canonicalBytes, to: other.name)
            #expect(failure?.code == -32002, "alpha's transaction sent to \(other.name): \(describe(failure))")
            #expect(
                failure?.message == "transaction is for rollup 1, this node runs rollup \(other.id.rawValue)",
                "\(describe(failure))")
        }
        // The same bytes, the rollup id (the first four bytes of the encoding) rewritten.
        var forgedIDs: [Hash] = []
        for target in rollups.dropFirst() {
            var bytes = original.canonicalBytes
            bytes.replaceSubrange(0..<4, with: target.id.canonicalBytes)
            let forged = try SignedTransaction(canonicalBytes: bytes)
            #expect(forged.transaction.rollup == target.id && forged.transaction.nonce == 0)
            #expect(!forged.hasValidSignature)
            forgedIDs.append(forged.id)
            for r in rollups {
                let failure = await send(bytes, to: r.name)
                let expected = r.id == target.id ? -32001 : -32002
                #expect(
                    failure?.code == expected,
                    "alpha's bytes re-addressed to \(target.name), sent to \(r.name): \(describe(failure))")
            }
        }

        // Never included: every node makes a few blocks, then knows none of them and the sender's nonce is untouched.
        for r in rollups {
            let rpc = net.rpc(r.name)
            #expect(
                try await eventually(30) {
                    (try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= heights[r.name, default: 0] + 3
                })
            let ids = r.id == rollups[0].id ? forgedIDs : forgedIDs + [original.id]
            for id in ids {
                #expect(try await rpc.call(RollupMethod.getTransaction, [.string(id.hex)]) == .null, "\(id) on \(r.name)")
            }
            let nonce = try await rpc.call(RollupMethod.getNonce, [.string(sender.address.hex)])
            #expect(nonce["nonce"]?.unsignedValue == 0 && nonce["pending"]?.unsignedValue == 0, "\(r.name): \(nonce)")
        }
        // The original is a good transaction: alpha includes it, and still no other rollup knows it.
        #expect(try await send(original.canonicalBytes, to: "alpha") == nil)
        #expect(
            try await eventually(30) {
                try await net.rpc("alpha").call(RollupMethod.getReceipt, [.string(original.id.hex)])["success"]?.boolValue
                    == true
            })
        for r in rollups.dropFirst() {
            #expect(try await net.rpc(r.name).call(RollupMethod.getTransaction, [.string(original.id.hex)]) == .null)
        }
    }

    /// The methods each kind of process serves, read from the code's own method tables.
    static func servedMethods(_ genesis: Genesis) throws -> (rollup: Set<String>, l1: Set<String>) {
        let dir = try TemporaryDirectory("auth-methods")
        let store = try ChainStore(datadir: dir.appending("rollup"), rollup: genesis.rollups[0], network: Network(genesis))
        var rollup = RPCDispatcher()
        RollupRPC(store: store, mempool: Mempool(rollup: store.rollup.id)).register(into: &rollup)
        let l1Store = try L1Store(datadir: dir.appending("l1"), genesis: genesis)
        var l1 = RPCDispatcher()
        L1RPC(store: l1Store, producer: L1Producer(store: l1Store, blockTime: .seconds(1), logger: Logger(label: "t")))
            .register(into: &l1)
        return (Set(rollup.methods.keys), Set(l1.methods.keys))
    }

    /// Raw HTTP: the body of a GET, or of a POST of `body`.
    static func http(_ url: String, post body: Data? = nil) throws -> String {
        let arguments =
            body == nil
            ? ["-s", url] : ["-s", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-", url]
        let result = try Command.run("curl", arguments, input: body.map { Array($0) })
        return result.output
    }

    /// No process answers any of its methods, /health or /metrics with a private key. Every method each process
    /// serves (from the code's method tables) is called with plausible parameters — real ids, hashes, heights,
    /// `"latest"`, 0, every role key's and dev account's address and public key — and no response body holds the
    /// hex (either case) or base64 of any dev account's or role key's seed, or the genesis's dev seed; nor do the
    /// daemons' logs.
    @Test func noRPCAnswersWithAPrivateKey() async throws {
        let net = try AuthNet("auth-keys", sequencers: ["alpha", "beta", "gamma"])
        defer { net.stop() }
        let follower = try NodeProcess(
            [
                "node", "--genesis", net.genesisPath, "--follow", "alpha", "--datadir", net.dir.appending("follower"),
                "--rpc-port", "0",
            ], logPath: net.dir.appending("follower.log"))
        defer { follower.stop() }
        let alpha = net.rollup("alpha"), beta = net.rollup("beta")
        let served = try Self.servedMethods(net.genesis)

        // Something to ask about: a transfer and a message from alpha to beta, included.
        let alphaRPC = net.rpc("alpha")
        let transfer = Transaction(
            rollup: alpha.id, nonce: 0, sender: net.dev(0).publicKey, fee: 1_000,
            call: .transfer(to: net.dev(1).address, asset: AssetName(rawValue: "ALPHA")!, amount: 5)
        ).signed(by: net.dev(0))
        let message = Transaction(
            rollup: alpha.id, nonce: 1, sender: net.dev(0).publicKey, fee: 1_000,
            call: .sendMessage(
                destination: beta.id, target: "mailbox", recipient: net.dev(2).address,
                value: [AssetAmount(AssetName(rawValue: "ALPHA")!, 3)], payload: Array("hello".utf8))
        ).signed(by: net.dev(0))
        for tx in [transfer, message] { _ = try await alphaRPC.call(RollupMethod.sendTransaction, [hexParam(tx)]) }
        var receipt = JSONValue.null
        #expect(
            try await eventually(30) {
                receipt = try await alphaRPC.call(RollupMethod.getReceipt, [.string(message.id.hex)])
                return receipt != .null
            })
        let messageID = receipt["message"]?.stringValue ?? Hash.zero.hex
        let blockHash = receipt["blockHash"]?.stringValue ?? Hash.zero.hex
        let l1 = net.l1Client
        #expect(try await eventually(60) { !(try await l1.outputs(rollup: alpha.id)).isEmpty })

        // Parameters: what each method is for, then the same probes for all.
        let keys = net.secretKeys
        let addresses: [JSONValue] = keys.map { .string($0.key.address.hex) }
        let publicKeys: [JSONValue] = keys.map { .string($0.key.publicKey.hex) }
        var generic: [[JSONValue]] = [[], [.string("latest")], [.number(0)], [.number(1)], [.bool(true)], [.null]]
        generic += addresses.map { [$0] } + publicKeys.map { [$0] }
        generic += addresses.map { [$0, .object(["proof": .bool(true), "assets": .array([.string("ALPHA")])])] }
        let zero = JSONValue.string(Hash.zero.hex)
        let devPost = BlobPost(
            header: BatchHeader(rollup: alpha.id, seq: 0, firstHeight: 1, lastHeight: 1), frame: try Zstd.compress([1]),
            signedBy: net.dev(0))
        let devOutput = OutputProposal(
            output: Output(rollup: alpha.id, l2Height: 1, blockHash: .zero, stateRoot: .zero, outboxRoot: .zero),
            parent: .zero, signedBy: net.dev(0))
        let devChallenge = Challenge(rollup: alpha.id, outputIndex: 0, proof: .output, signedBy: net.dev(0))
        let specific: [String: [[JSONValue]]] = [
            "rollup_sendTransaction": [
                [
                    hexParam(
                        Transaction(
                            rollup: alpha.id, nonce: 2, sender: net.dev(0).publicKey, fee: 1_000,
                            call: .transfer(to: net.dev(1).address, asset: AssetName(rawValue: "ALPHA")!, amount: 1)
                        ).signed(by: net.dev(0)))
                ]
            ],
            "rollup_getTransaction": [[.string(transfer.id.hex)], [.string(message.id.hex)], [zero]],
            "rollup_getReceipt": [[.string(transfer.id.hex)], [.string(message.id.hex)]],
            "rollup_getBlock": [
                [.string("latest"), .bool(true)], [.number(1), .bool(true)], [.string(blockHash), .bool(true)],
            ],
            "rollup_blockNumber": [[]],
            "rollup_getAccount": [[.string(net.dev(0).address.hex), .object(["proof": .bool(true)])]],
            "rollup_getNonce": [[.string(net.dev(0).address.hex)]],
            "rollup_status": [[]],
            "rollup_getMessage": [[.string(messageID)]],
            "rollup_getMessages": [
                [], [.null, .number(0)], [.number(beta.id.rawValue), .number(0), .null, .number(1000)],
            ],
            "rollup_getMessageProof": [[.string(messageID)]],
            "rollup_getRelay": [[.string(messageID)]],
            "rollup_getMessageStatus": [[.string(messageID)]],
            "rollup_getMailbox": [
                [.string(net.dev(2).address.hex), .number(alpha.id.rawValue), .string(net.dev(0).address.hex)]
            ],
            "rollup_getEscrow": [[zero]],
            "l1_blockNumber": [[]],
            "l1_getBlock": [[.string("latest")], [.number(1)]],
            "l1_postBlob": [[hex(devPost)]],
            "l1_getBlob": [[.number(alpha.id.rawValue), .number(0)], [.string("alpha"), .number(0)]],
            "l1_getBlobs": [[.number(alpha.id.rawValue), .number(0), .number(100)]],
            "l1_proposeOutput": [[hex(devOutput)]],
            "l1_getOutputs": [[.number(alpha.id.rawValue)], [.string("beta"), .number(0), .number(1000)]],
            "l1_challenge": [[hex(devChallenge)]],
            "l1_getChallenge": [[zero]],
            "l1_getBalance": [[.string(alpha.proposer.publicKey.address.hex)]],
            "l1_status": [[]],
        ]
        // Every method the code serves has its plausible parameters here, and nothing here is not served.
        #expect(Set(specific.keys) == served.rollup.union(served.l1))

        let processes: [(String, String, Set<String>)] = [
            ("l1", net.l1.url, served.l1), ("alpha", alpha.rpc, served.rollup), ("beta", beta.rpc, served.rollup),
            ("gamma", net.rollup("gamma").rpc, served.rollup), ("alpha's follower", follower.url, served.rollup),
        ]
        var bodies: [(what: String, body: String)] = []
        for (name, url, methods) in processes {
            for method in methods.sorted() {
                let calls = (specific[method] ?? []) + generic
                let requests: [JSONValue] = calls.enumerated().map { i, params in
                    .object([
                        "jsonrpc": .string("2.0"), "id": .integer(Int64(i)), "method": .string(method),
                        "params": .array(params),
                    ])
                }
                let body = try Self.http(url, post: try JSONValue.array(requests).serialized())
                guard case .array(let answers) = try JSONValue.parse(Data(body.utf8)) else {
                    Issue.record("\(name) \(method): not a batch answer: \(body.prefix(200))")
                    continue
                }
                #expect(answers.count == calls.count, "\(name) \(method): every call answered")
                bodies.append(("\(name) \(method)", body))
            }
            bodies.append(("\(name) /health", try Self.http(url + "/health")))
            bodies.append(("\(name) /metrics", try Self.http(url + "/metrics")))
        }
        for log in ["l1", "alpha", "beta", "gamma", "follower"] {
            bodies.append(
                ("\(log)'s log", try String(contentsOfFile: net.dir.appending("\(log).log"), encoding: .utf8)))
        }

        var secrets = keys.flatMap { name, key in
            [(name, Hex.encode(key.seed)), (name, Data(key.seed).base64EncodedString())]
        }
        secrets += [("the dev seed", AuthNet.seed), ("the dev seed", Hex.encode(Array(AuthNet.seed.utf8)))]
        for (what, body) in bodies {
            let lowered = body.lowercased()
            for (name, secret) in secrets {
                #expect(
                    !lowered.contains(secret.lowercased()) && !body.contains(secret),
                    "\(what) shows \(name)'s private key")
            }
        }
        // The scan reads real answers: the public halves of the registered keys are in them.
        let all = bodies.map(\.body).joined().lowercased()
        for role in [alpha.batcher, alpha.proposer, alpha.sequencer] {
            #expect(all.contains(Hex.encode(role.publicKey.bytes)) || all.contains(role.publicKey.address.hex))
        }
        #expect(all.contains("tributary_head_height") && all.contains("\"status\":\"ok\""))
    }

    /// Every daemon binds 127.0.0.1 unless `--rpc-host` says otherwise: with the defaults, nothing answers on the
    /// machine's other addresses. (There are no admin-only methods; docs/security.md.) The same check sees a node
    /// told to bind every address, so it can fail.
    @Test func daemonsListenOnLoopbackByDefault() async throws {
        let external = nonLoopbackAddresses()
        // The one assertion that needs another address: a machine with only loopback has nothing to reach a node
        // through, so there is nothing to show there.
        guard !external.isEmpty else { return }
        let dir = try TemporaryDirectory("auth-loopback")
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        defer { alphaNode.stop() }
        let follower = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "follower", follow: true)
        defer { follower.stop() }
        for (name, node) in [("l1", l1Node), ("alpha", alphaNode), ("follower", follower)] {
            let port = try #require(URL(string: node.url)?.port)
            #expect(node.url.hasPrefix("http://127.0.0.1:"), "\(name): \(node.url)")
            #expect(canConnect(MachineAddress.loopback, port: port), "\(name) answers on 127.0.0.1")
            for address in external {
                #expect(!canConnect(address, port: port), "\(name) answers on \(address.text):\(port)")
            }
        }
        let exposed = try startRollup(
            dir, genesis: genesis, l1: l1Node.url, name: "exposed", follow: true, extra: ["--rpc-host", "0.0.0.0"])
        defer { exposed.stop() }
        let port = try #require(URL(string: exposed.url)?.port)
        let v4 = external.filter { $0.isIPv4 }
        #expect(v4.isEmpty || v4.allSatisfy { canConnect($0, port: port) }, "--rpc-host 0.0.0.0 is reachable")
    }
}

/// A socket address of this machine (IPv4 or IPv6), from `getifaddrs`.
struct MachineAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var text: String
    var description: String { text }
    var isIPv4: Bool { Int32(storage.ss_family) == AF_INET }

    static var loopback: MachineAddress {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: address) { target.copyMemory(from: $0) }
        }
        return MachineAddress(storage: storage, text: "127.0.0.1")
    }
}

/// The machine's addresses that are not loopback (nor IPv6 link-local, which needs an interface to be reached).
func nonLoopbackAddresses() -> [MachineAddress] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0 else { return [] }
    defer { freeifaddrs(list) }
    var out: [MachineAddress] = []
    var cursor = list
    while let entry = cursor {
        defer { cursor = entry.pointee.ifa_next }
        guard let address = entry.pointee.ifa_addr, entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0 else {
            continue
        }
        let family = Int32(address.pointee.sa_family)
        guard family == AF_INET || family == AF_INET6 else { continue }
        var storage = sockaddr_storage()
        let length = family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
        withUnsafeMutableBytes(of: &storage) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: length))
        }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        getnameinfo(address, socklen_t(length), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
        let text = String(cString: host)
        if family == AF_INET6, text.lowercased().hasPrefix("fe80") { continue }
        out.append(MachineAddress(storage: storage, text: text))
    }
    return out
}

/// Whether a TCP connection to `address` on `port` is accepted.
func canConnect(_ address: MachineAddress, port: Int) -> Bool {
    var storage = address.storage
    let family = Int32(storage.ss_family)
    let length: Int
    if family == AF_INET {
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port = in_port_t(port).bigEndian
        }
        length = MemoryLayout<sockaddr_in>.size
    } else {
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port = in_port_t(port).bigEndian
        }
        length = MemoryLayout<sockaddr_in6>.size
    }
    let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(length)) == 0 }
    }
}
