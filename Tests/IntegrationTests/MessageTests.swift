import API
import Chain
import Config
import Foundation
import L1Chain
import Node
import Primitives
import RPC
import StateMachine
import Testing
import TributaryTesting

/// A fast three-rollup genesis: 150 ms L1 blocks, a window of `window` L1 blocks.
/// Three rollups (alpha, beta, gamma) with fast blocks and short windows, their nodes started by
/// the one launcher (relayers and `msg` commands find peers through the genesis).
func messageDevnet(
    _ prefix: String, window: Int = 10, interval: Int = 10, extra: [String: [String]] = [:]
) throws -> LocalDevnet {
    var builder = GenesisBuilder(rollups: 3)
    builder.l1.blockTimeMs = 150
    builder.l1.fraudWindowBlocks = window
    builder.l1.proposerSilenceBlocks = 20
    builder.l1.extra["maxBlobBytes"] = .number(1_048_576)
    builder.eachRollup {
        $0.blockTimeMs = 100
        $0.batchMaxAgeMs = 300
        $0.outputIntervalBlocks = interval
    }
    var options = LocalDevnet.Options()
    options.arguments = extra
    return try LocalDevnet(prefix, genesis: builder, options: options)
}

extension LocalDevnet {
    func rpc(_ name: String) -> RPCClient { RPCClient(url: url(name)) }
}

/// Sends a message through the CLI-equivalent RPC path; returns its id once it is in a block.
/// The fee `sendMessage` pays: above the mempool's default price (1 per byte) for any message these
/// tests send (at most a 1 KiB payload and four assets: under 1,400 bytes signed).
let messageFee: UInt64 = 2_000

func sendMessage(
    _ net: LocalDevnet, from rollup: String, key: SigningKey, to destination: String, recipient: Address, target: String,
    value: [AssetAmount], payload: [UInt8] = []
) async throws -> Hash {
    let rpc = net.rpc(rollup)
    let source = net.genesis.rollup(named: rollup)!, dest = net.genesis.rollup(named: destination)!
    let nonce = try await rpc.call(RollupMethod.getNonce, [.string(key.address.hex)])["pending"]?.unsignedValue ?? 0
    let tx = Transaction(
        rollup: source.id, nonce: nonce, sender: key.publicKey, fee: messageFee,
        call: .sendMessage(destination: dest.id, target: target, recipient: recipient, value: value, payload: payload)
    ).signed(by: key)
    _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
    var id = Hash.zero
    _ = try await eventually(30) {
        let r = try await rpc.call(RollupMethod.getReceipt, [.string(tx.id.hex)])
        guard r != .null else { return false }
        id = try Hash(hex: r["message"]?.stringValue ?? "")
        return true
    }
    return id
}

func balance(_ rpc: RPCClient, _ who: Address, _ asset: String) async throws -> UInt64 {
    let account = try await rpc.call(
        RollupMethod.getAccount, [.string(who.hex), .object(["assets": .array([.string(asset)])])])
    return account["balances"]?[asset]?.unsignedValue ?? 0
}

@Suite(.serialized) struct MessageTests {
    let ALPHA = AssetName(rawValue: "ALPHA")!, BETA = AssetName(rawValue: "BETA")!,
        GAMMA = AssetName(rawValue: "GAMMA")!

    /// Messages in every direction, with value, land exactly once and only after their output is
    /// final; a failing target bounces the value home; balances and wrapped supplies are exact.
    @Test func messagesInEveryDirectionLandOnceAfterTheWindow() async throws {
        let net = try messageDevnet("msg-all")
        defer { net.stop() }
        let d = (0..<6).map { DevKeys.account($0) }
        var sent: [(String, String, Hash)] = []
        sent.append(
            (
                "alpha", "beta",
                try await sendMessage(
                    net, from: "alpha", key: d[0], to: "beta", recipient: d[1].address, target: "bank",
                    value: [AssetAmount(ALPHA, 100)])
            ))
        sent.append(
            (
                "beta", "gamma",
                try await sendMessage(
                    net, from: "beta", key: d[1], to: "gamma", recipient: d[2].address, target: "mailbox",
                    value: [AssetAmount(BETA, 20)], payload: Array("hi gamma".utf8))
            ))
        sent.append(
            (
                "gamma", "alpha",
                try await sendMessage(
                    net, from: "gamma", key: d[2], to: "alpha", recipient: d[3].address, target: "bank",
                    value: [AssetAmount(GAMMA, 30)])
            ))
        sent.append(
            (
                "alpha", "gamma",
                try await sendMessage(
                    net, from: "alpha", key: d[0], to: "gamma", recipient: d[4].address, target: "bank",
                    value: [AssetAmount(ALPHA, 5)])
            ))
        let bounced = try await sendMessage(
            net, from: "alpha", key: d[5], to: "beta", recipient: d[1].address, target: "nope",
            value: [AssetAmount(ALPHA, 3)])
        let alpha = net.rpc("alpha"), beta = net.rpc("beta"), gamma = net.rpc("gamma")
        let l1 = L1Client(url: net.l1.url)
        for (source, _, id) in sent {
            #expect(
                try await eventually(90) {
                    try await net.rpc(source).call(RollupMethod.getMessageStatus, [.string(id.hex)])["status"]?.stringValue
                        == "relayed"
                }, "\(source) message \(id)")
        }
        #expect(
            try await eventually(90) {
                try await alpha.call(RollupMethod.getMessageStatus, [.string(bounced.hex)])["status"]?.stringValue
                    == "failed"
            })
        // Exactly once: balances on every side.
        #expect(try await balance(beta, d[1].address, "alpha/ALPHA") == 100)
        #expect(try await balance(gamma, d[2].address, "beta/BETA") == 20)
        #expect(try await balance(alpha, d[3].address, "gamma/GAMMA") == 30)
        #expect(try await balance(gamma, d[4].address, "alpha/ALPHA") == 5)
        let mailbox = try await gamma.call(
            RollupMethod.getMailbox, [.string(d[2].address.hex), .number(2), .string(d[1].address.hex)])
        #expect(mailbox.stringValue == "0x" + Hex.encode(Array("hi gamma".utf8)))
        // The bounce came home: dev5 paid only the fee.
        #expect(
            try await eventually(90) {
                try await balance(alpha, d[5].address, "ALPHA") == 1_000_000_000_000 - messageFee
            })
        // Native value is in the bridge while it is away: 105 ALPHA out, the 3 bounced are back.
        #expect(try await balance(alpha, ModuleAccount.bridge, "ALPHA") == 105)
        #expect(try await balance(beta, ModuleAccount.bridge, "BETA") == 20)
        #expect(try await balance(gamma, ModuleAccount.bridge, "GAMMA") == 30)
        // Never before the window: each relay's block builds on an L1 block at or after the window's end.
        for (source, destination, id) in sent {
            let rpc = net.rpc(destination)
            let relayTx = try await findRelay(rpc, id)
            let block = try await rpc.call(RollupMethod.getBlock, [relayTx.height, .bool(true)])
            let origin = try #require(block["l1Origin"]?["height"]?.unsignedValue)
            let fact = try #require(
                try await l1.fact(rollup: net.genesis.rollup(named: source)!.id, index: relayTx.outputIndex))
            #expect(origin >= fact.windowEnd, "relayed at L1 \(origin), window ends \(fact.windowEnd)")
        }
        // The stores show it: alpha's outbox, beta's inbox (read-only, while the nodes run), and
        // both verify from genesis, relays included.
        let outbox = try TributaryBinary.run(["db", "outbox", "--datadir", net.dir.appending("alpha")])
        #expect(
            outbox.status == 0 && outbox.output.contains("1→2") && outbox.output.contains("100:ALPHA"),
            "\(outbox.output)")
        let inbox = try TributaryBinary.run(["db", "inbox", "--datadir", net.dir.appending("beta")])
        #expect(
            inbox.status == 0 && inbox.output.contains("success") && inbox.output.contains("targetFailed"),
            "\(inbox.output)")
        for name in ["alpha", "beta", "gamma"] {
            let verify = try TributaryBinary.run([
                "db", "verify", "--datadir", net.dir.appending(name), "--genesis", net.genesisPath,
            ])
            #expect(verify.status == 0, "\(name): \(verify.output) \(verify.stderr)")
        }
        // Relaying again by hand is refused with a receipt: already relayed.
        let again = try TributaryBinary.run([
            "msg", "relay", sent[0].2.hex, "--source", "alpha", "--from", "dev7", "--genesis", net.genesisPath,
            "--l1", net.l1.url,
        ])
        #expect(again.status != 0)
        #expect(again.output.contains("alreadyRelayed"), "\(again.output) \(again.stderr)")
        _ = net
    }

    /// Finds the relay of message `id` in `rpc`'s chain: its block height and output index.
    func findRelay(_ rpc: RPCClient, _ id: Hash) async throws -> (height: JSONValue, outputIndex: UInt64) {
        let head = try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0
        var h = head
        while h > 0 {
            let block = try await rpc.call(RollupMethod.getBlock, [.number(h), .bool(true)])
            for tx in block["transactions"]?.arrayValue ?? [] {
                if tx["call"]?["type"]?.stringValue == "relayMessage",
                    tx["call"]?["message"]?["id"]?.stringValue == id.hex,
                    let index = tx["call"]?["outputIndex"]?.unsignedValue
                {
                    let receipt = try await rpc.call(RollupMethod.getReceipt, [tx["id"] ?? .null])
                    if receipt["success"]?.boolValue == true { return (.number(h), index) }
                }
            }
            h -= 1
        }
        throw RPCError.internalError("no successful relay of \(id)")
    }

    /// `Scripts/swap`, run as a person would: an atomic ALPHA/BETA swap through the escrow module.
    @Test func theSwapScenarioTradesAlphaForBetaAtomically() async throws {
        let net = try messageDevnet("msg-swap")
        defer { net.stop() }
        let script = repositoryRoot.appendingPathComponent("Scripts/swap").path
        let run = try Command.run(
            "env", ["TRIBUTARY_BIN=\(TributaryBinary.path)", script, "--genesis", net.genesisPath])
        #expect(run.status == 0, "\(run.output)\n\(run.stderr)")
        for step in ["1. dev0 picks a secret", "3. waiting for both messages", "relayed", "swap complete"] {
            #expect(run.output.contains(step), "\(run.output)")
        }
        #expect(try await balance(net.rpc("alpha"), DevKeys.account(0).address, "beta/BETA") == 20)
        #expect(try await balance(net.rpc("beta"), DevKeys.account(1).address, "alpha/ALPHA") == 10)
        #expect(try await balance(net.rpc("alpha"), ModuleAccount.escrow, "beta/BETA") == 0)
        #expect(try await balance(net.rpc("beta"), ModuleAccount.escrow, "alpha/ALPHA") == 0)
        let help = try Command.run(script, ["--help"])
        #expect(help.status == 0 && help.output.contains("Usage: Scripts/swap"))
        let bad = try Command.run(script, ["--colour"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown option"))
        _ = net
    }

    /// The source's node is down after it posted: the destination relays from the L1's DA.
    @Test func aDownSourceIsRelayedFromDA() async throws {
        let net = try messageDevnet("msg-down")
        defer { net.stop() }
        let key = DevKeys.account(0)
        let id = try await sendMessage(
            net, from: "alpha", key: key, to: "beta", recipient: DevKeys.account(8).address, target: "bank",
            value: [AssetAmount(ALPHA, 42)])
        // Wait until an output covers it, then stop alpha for good.
        #expect(
            try await eventually(30) {
                let s = try await net.rpc("alpha").call(RollupMethod.getMessageStatus, [.string(id.hex)])["status"]?
                    .stringValue
                return s == "inOutput" || s == "finalized" || s == "relayed"
            })
        #expect(net.node("alpha")!.stop() == 0)
        #expect(
            try await eventually(90) {
                try await balance(net.rpc("beta"), DevKeys.account(8).address, "alpha/ALPHA") == 42
            })
    }
}

@Suite(.serialized) struct MessageSafetyTests {
    let ALPHA = AssetName(rawValue: "ALPHA")!

    /// Submits a relay of `message` with `proof` against output `index` to `rpc`; returns the
    /// receipt's status.
    func relayStatus(_ rpc: RPCClient, _ rollup: RollupID, _ message: Message, _ proof: OutboxProof, _ index: UInt64)
        async throws -> String
    {
        let key = DevKeys.account(9)
        let nonce = try await rpc.call(RollupMethod.getNonce, [.string(key.address.hex)])["pending"]?.unsignedValue ?? 0
        let tx = Transaction(
            rollup: rollup, nonce: nonce, sender: key.publicKey, fee: 0,
            call: .relayMessage(message: message, proof: proof, outputIndex: index)
        ).payingMinimumFee(perByte: 1).signed(by: key)
        _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
        var status = ""
        _ = try await eventually(30) {
            let r = try await rpc.call(RollupMethod.getReceipt, [.string(tx.id.hex)])
            status = r["status"]?.stringValue ?? ""
            return r != .null
        }
        return status
    }

    /// A lying source: messages proven only against false (invalidated) outputs never execute;
    /// after the follower's honest outputs finalize they execute exactly once. Forged proofs,
    /// pending and invalidated outputs, replays and wrong destinations fail with clear receipts.
    @Test func messagesFromInvalidatedOutputsNeverExecute() async throws {
        // Outputs only when messages wait (a long interval): the message's output is the first
        // one above the fault, so it is the one the follower's challenge invalidates.
        let net = try messageDevnet(
            "msg-fault", window: 25, interval: 100_000,
            extra: ["alpha": ["--fault", "state-root-at=12"], "beta": ["--no-relay"]])
        defer { net.stop() }
        let follower = try NodeProcess(
            [
                "node", "--genesis", net.genesisPath, "--follow", "alpha", "--datadir", net.dir.appending("follower"),
                "--rpc-port", "0",
            ],
            logPath: net.dir.appending("follower.log"))
        defer { follower.stop() }
        let l1 = L1Client(url: net.l1.url)
        let alpha = net.rpc("alpha"), beta = net.rpc("beta"), gamma = net.rpc("gamma")
        #expect(try await eventually(30) { (try await alpha.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= 13 })
        let recipient = DevKeys.account(7).address
        let id = try await sendMessage(
            net, from: "alpha", key: DevKeys.account(0), to: "beta", recipient: recipient, target: "bank",
            value: [AssetAmount(ALPHA, 11)])
        let sent = try await alpha.call(RollupMethod.getMessage, [.string(id.hex)])
        let message = try Message(canonicalBytes: try Hex.decode(try #require(sent["encoded"]?.stringValue)))
        let sentHeight = try #require(sent["height"]?.unsignedValue)
        // The false output covering it is invalidated by the follower's challenge.
        var invalid: L1Output?
        #expect(
            try await eventually(60) {
                invalid = try await l1.outputs(rollup: RollupID(1)).first {
                    $0.status == .invalidated && $0.output.l2Height >= sentHeight
                }
                return invalid != nil
            })
        let bad = try #require(invalid)
        let proofAtBad = try await alpha.call(
            RollupMethod.getMessageProof, [.string(id.hex), .number(bad.output.l2Height)])
        let badProof = try OutboxProof(
            canonicalBytes: try Hex.decode(try #require(proofAtBad["proof"]?["encoded"]?.stringValue)))
        #expect(try await relayStatus(beta, RollupID(2), message, badProof, bad.index) == "outputNotFinalized")
        // An honest output covering it: pending first, then final.
        var honest: L1Output?
        #expect(
            try await eventually(60) {
                honest = try await l1.outputs(rollup: RollupID(1)).first {
                    $0.status != .invalidated && $0.output.l2Height >= sentHeight
                        && $0.proposer != net.genesis.rollups[0].proposer.publicKey
                }
                return honest != nil
            })
        let good = try #require(honest)
        let proofAtGood = try await alpha.call(
            RollupMethod.getMessageProof, [.string(id.hex), .number(good.output.l2Height)])
        let proof = try OutboxProof(
            canonicalBytes: try Hex.decode(try #require(proofAtGood["proof"]?["encoded"]?.stringValue)))
        if good.status == .pending {
            #expect(try await relayStatus(beta, RollupID(2), message, proof, good.index) == "outputNotFinalized")
        }
        #expect(
            try await eventually(60) {
                try await l1.outputs(rollup: RollupID(1)).first { $0.index == good.index }?.status == .finalized
            })
        // The honest relay executes (once beta's sequencer has seen the L1 block that made it final).
        var status = ""
        for _ in 0..<20 {
            status = try await relayStatus(beta, RollupID(2), message, proof, good.index)
            if status != "outputNotFinalized" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(status == "success")
        #expect(try await relayStatus(beta, RollupID(2), message, proof, good.index) == "alreadyRelayed")
        // Forged: more value than was sent.
        var forged = message
        forged.value = [AssetAmount(ALPHA, 11_000)]
        #expect(try await relayStatus(beta, RollupID(2), forged, proof, good.index) == "badProof")
        // A message for beta relayed on gamma.
        #expect(try await relayStatus(gamma, RollupID(3), message, proof, good.index) == "wrongDestination")
        #expect(try await balance(beta, recipient, "alpha/ALPHA") == 11)
        #expect(try await balance(gamma, recipient, "alpha/ALPHA") == 0)
        #expect(follower.stop() == 0)
        _ = net
    }

    /// Random traffic on three rollups — transfers, messages with value in every direction,
    /// failing targets, escrow locks — and, every round, when the messages have landed, every
    /// asset's supply adds up exactly: held on its home rollup (outside the bridge) plus held
    /// wrapped everywhere else equals the genesis supply.
    @Test func valueIsConservedUnderRandomTraffic() async throws {
        let net = try messageDevnet("msg-conserve")
        defer { net.stop() }
        let names = ["alpha", "beta", "gamma"], assets = ["ALPHA", "BETA", "GAMMA"]
        var rng = SplitMix64(seed: 77)
        var pending: [(String, Hash)] = []
        let holders: [Address] =
            (0..<10).map { DevKeys.account($0).address }
            + net.genesis.rollups.flatMap {
                [$0.treasury.publicKey.address, $0.sequencer.publicKey.address]
            } + [ModuleAccount.escrow]
        for round in 0..<3 {
            // Transfers of native and wrapped assets among the dev accounts.
            for _ in 0..<10 {
                let r = Int(rng.next() % 3)
                let from = DevKeys.account(6 + Int(rng.next() % 4))
                let rpc = net.rpc(names[r])
                let nonce =
                    try await rpc.call(RollupMethod.getNonce, [.string(from.address.hex)])["pending"]?.unsignedValue ?? 0
                let tx = Transaction(
                    rollup: RollupID(UInt32(r + 1)), nonce: nonce, sender: from.publicKey, fee: 1_000,
                    call: .transfer(
                        to: DevKeys.account(Int(rng.next() % 10)).address,
                        asset: AssetName(rawValue: assets[r])!, amount: 1 + rng.next() % 1000)
                )
                .signed(by: from)
                _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
            }
            for _ in 0..<12 {
                let s = Int(rng.next() % 3), d = (s + 1 + Int(rng.next() % 2)) % 3
                let key = DevKeys.account(Int(rng.next() % 6))
                let kind = rng.next() % 4
                let target = kind == 0 ? "nope" : kind == 1 ? "escrow" : "bank"
                let payload = kind == 1 ? EscrowLock.payload(hashLock: Hash.sha256([1]), timeout: 1_000_000) : []
                let id = try await sendMessage(
                    net, from: names[s], key: key, to: names[d],
                    recipient: DevKeys.account(Int(rng.next() % 10)).address,
                    target: target, value: [AssetAmount(AssetName(rawValue: assets[s])!, 1 + rng.next() % 500)],
                    payload: payload)
                pending.append((names[s], id))
            }
            // Every message lands (a failing target bounces, and the bounce lands too).
            for (source, id) in pending {
                var final = ""
                _ = try await eventually(120) {
                    final =
                        try await net.rpc(source).call(RollupMethod.getMessageStatus, [.string(id.hex)])["status"]?
                        .stringValue ?? ""
                    return final == "relayed" || final == "failed"
                }
                #expect(final == "relayed" || final == "failed", "round \(round): \(id) is \(final)")
                if final == "failed" {
                    let s = try await net.rpc(source).call(RollupMethod.getMessageStatus, [.string(id.hex)])
                    if let bounce = s["returnMessage"]?.stringValue {
                        let dest = try #require(
                            net.genesis.rollup(id: RollupID(UInt32(s["destination"]?.unsignedValue ?? 0))))
                        _ = try await eventually(120) {
                            try await net.rpc(dest.name).call(RollupMethod.getMessageStatus, [.string(bounce)])["status"]?
                                .stringValue == "relayed"
                        }
                    }
                }
            }
            pending.removeAll()
            for (h, asset) in assets.enumerated() {
                var total: UInt64 = 0
                for (r, name) in names.enumerated() {
                    let local = r == h ? asset : "\(names[h])/\(asset)"
                    for who in holders { total += try await balance(net.rpc(name), who, local) }
                }
                #expect(total == 1_000_000_000_000_000, "round \(round): \(asset) adds up to \(total)")
            }
        }
        _ = net
    }
}
