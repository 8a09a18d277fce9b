import Chain
import Config
import Foundation
import Node
import Primitives
import RPC
import StateMachine
import Testing
import TributaryTesting

/// A fast three-rollup genesis: 150 ms L1 blocks, a window of `window` L1 blocks.
func threeRollups(_ dir: TemporaryDirectory, window: Int = 10) throws -> String {
    func rollup(_ id: Int, _ name: String, _ asset: String) -> String {
        """
        { "id": \(id), "name": "\(name)", "rpc": "http://127.0.0.1:\(id + 1)", "blockTimeMs": 100, "maxBlockTransactions": 5000,
          "batch": { "maxBytes": 262144, "maxBlocks": 20, "maxAgeMs": 300, "zstdLevel": 3 },
          "outputIntervalBlocks": 10, "nativeAsset": { "name": "\(asset)", "supply": 1000000000000000 },
          "devAccounts": { "count": 10, "balance": 1000000000000 } }
        """
    }
    let json = """
        { "l1": { "rpc": "http://127.0.0.1:1", "blockTimeMs": 150, "fraudWindowBlocks": \(window), "bond": 1000000,
                  "proposerSilenceBlocks": 20, "maxBlobBytes": 1048576 },
          "rollups": [\(rollup(1, "alpha", "ALPHA")), \(rollup(2, "beta", "BETA")), \(rollup(3, "gamma", "GAMMA"))] }
        """
    let path = dir.appending("genesis.json")
    try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// L1 + three rollup nodes whose RPC ports are fixed in a genesis written for them (relayers and
/// `msg` commands find peers through the genesis).
struct Devnet {
    let dir: TemporaryDirectory
    let genesisPath: String
    let genesis: Genesis
    var l1: NodeProcess
    var nodes: [String: NodeProcess] = [:]

    init(_ prefix: String, window: Int = 10, extra: [String: [String]] = [:]) throws {
        dir = try TemporaryDirectory(prefix)
        let template = try threeRollups(dir, window: window)
        // Free ports for the three nodes, written into the genesis.
        var text = try String(contentsOfFile: template, encoding: .utf8)
        let l1Port = try freePort()
        text = text.replacingOccurrences(of: "http://127.0.0.1:1\"", with: "http://127.0.0.1:\(l1Port)\"")
        for id in 1...3 {
            text = text.replacingOccurrences(
                of: "http://127.0.0.1:\(id + 1)\"", with: "http://127.0.0.1:\(try freePort())\"")
        }
        genesisPath = dir.appending("devnet.json")
        try Data(text.utf8).write(to: URL(fileURLWithPath: genesisPath))
        genesis = try Genesis.load(path: genesisPath)
        l1 = try NodeProcess(
            ["l1", "--genesis", genesisPath, "--datadir", dir.appending("l1")], logPath: dir.appending("l1.log"))
        for r in genesis.rollups {
            nodes[r.name] = try start(r.name, extra: extra[r.name] ?? [])
        }
    }

    func start(_ name: String, extra: [String] = []) throws -> NodeProcess {
        try NodeProcess(
            ["node", "--genesis", genesisPath, "--rollup", name, "--datadir", dir.appending(name)] + extra,
            logPath: dir.appending("\(name)-\(Date().timeIntervalSince1970).log"))
    }

    func rpc(_ name: String) -> RPCClient { RPCClient(url: genesis.rollup(named: name)!.rpc) }

    func stop() {
        for node in nodes.values { node.stop() }
        l1.stop()
    }
}

/// Sends a message through the CLI-equivalent RPC path; returns its id once it is in a block.
func sendMessage(
    _ net: Devnet, from rollup: String, key: SigningKey, to destination: String, recipient: Address, target: String,
    value: [AssetAmount], payload: [UInt8] = []
) async throws -> Hash {
    let rpc = net.rpc(rollup)
    let source = net.genesis.rollup(named: rollup)!, dest = net.genesis.rollup(named: destination)!
    let nonce = try await rpc.call("rollup_getNonce", [.string(key.address.hex)])["pending"]?.unsignedValue ?? 0
    let tx = Transaction(
        rollup: source.id, nonce: nonce, sender: key.publicKey, fee: 1,
        call: .sendMessage(destination: dest.id, target: target, recipient: recipient, value: value, payload: payload)
    ).signed(by: key)
    _ = try await rpc.call("rollup_sendTransaction", [hexParam(tx)])
    var id = Hash.zero
    _ = try await eventually(30) {
        let r = try await rpc.call("rollup_getReceipt", [.string(tx.id.hex)])
        guard r != .null else { return false }
        id = try Hash(hex: r["message"]?.stringValue ?? "")
        return true
    }
    return id
}

func balance(_ rpc: RPCClient, _ who: Address, _ asset: String) async throws -> UInt64 {
    let account = try await rpc.call("rollup_getAccount", [.string(who.hex), .object(["assets": .array([.string(asset)])])])
    return account["balances"]?[asset]?.unsignedValue ?? 0
}

@Suite(.serialized) struct MessageTests {
    let ALPHA = AssetName(rawValue: "ALPHA")!, BETA = AssetName(rawValue: "BETA")!, GAMMA = AssetName(rawValue: "GAMMA")!

    /// Messages in every direction, with value, land exactly once and only after their output is
    /// final; a failing target bounces the value home; balances and wrapped supplies are exact.
    @Test func messagesInEveryDirectionLandOnceAfterTheWindow() async throws {
        var net = try Devnet("msg-all")
        defer { net.stop() }
        let d = (0..<6).map { DevKeys.account($0) }
        var sent: [(String, String, Hash)] = []
        sent.append(("alpha", "beta", try await sendMessage(net, from: "alpha", key: d[0], to: "beta", recipient: d[1].address, target: "bank", value: [AssetAmount(ALPHA, 100)])))
        sent.append(("beta", "gamma", try await sendMessage(net, from: "beta", key: d[1], to: "gamma", recipient: d[2].address, target: "mailbox", value: [AssetAmount(BETA, 20)], payload: Array("hi gamma".utf8))))
        sent.append(("gamma", "alpha", try await sendMessage(net, from: "gamma", key: d[2], to: "alpha", recipient: d[3].address, target: "bank", value: [AssetAmount(GAMMA, 30)])))
        sent.append(("alpha", "gamma", try await sendMessage(net, from: "alpha", key: d[0], to: "gamma", recipient: d[4].address, target: "bank", value: [AssetAmount(ALPHA, 5)])))
        let bounced = try await sendMessage(net, from: "alpha", key: d[5], to: "beta", recipient: d[1].address, target: "nope", value: [AssetAmount(ALPHA, 3)])
        let alpha = net.rpc("alpha"), beta = net.rpc("beta"), gamma = net.rpc("gamma")
        let l1 = L1Client(url: net.l1.url)
        for (source, _, id) in sent {
            #expect(try await eventually(90) {
                try await net.rpc(source).call("rollup_getMessageStatus", [.string(id.hex)])["status"]?.stringValue == "relayed"
            }, "\(source) message \(id)")
        }
        #expect(try await eventually(90) {
            try await alpha.call("rollup_getMessageStatus", [.string(bounced.hex)])["status"]?.stringValue == "failed"
        })
        // Exactly once: balances on every side.
        #expect(try await balance(beta, d[1].address, "alpha/ALPHA") == 100)
        #expect(try await balance(gamma, d[2].address, "beta/BETA") == 20)
        #expect(try await balance(alpha, d[3].address, "gamma/GAMMA") == 30)
        #expect(try await balance(gamma, d[4].address, "alpha/ALPHA") == 5)
        let mailbox = try await gamma.call("rollup_getMailbox", [.string(d[2].address.hex), .number(2), .string(d[1].address.hex)])
        #expect(mailbox.stringValue == "0x" + Hex.encode(Array("hi gamma".utf8)))
        // The bounce came home: dev5 paid only the fee.
        #expect(try await eventually(90) {
            try await balance(alpha, d[5].address, "ALPHA") == 1_000_000_000_000 - 1
        })
        // Native value is in the bridge while it is away: 105 ALPHA out, the 3 bounced are back.
        #expect(try await balance(alpha, ModuleAccount.bridge, "ALPHA") == 105)
        #expect(try await balance(beta, ModuleAccount.bridge, "BETA") == 20)
        #expect(try await balance(gamma, ModuleAccount.bridge, "GAMMA") == 30)
        // Never before the window: each relay's block builds on an L1 block at or after the window's end.
        for (source, destination, id) in sent {
            let rpc = net.rpc(destination)
            let relayTx = try await findRelay(rpc, id)
            let block = try await rpc.call("rollup_getBlock", [relayTx.height, .bool(true)])
            let origin = try #require(block["l1Origin"]?["height"]?.unsignedValue)
            let fact = try #require(try await l1.fact(rollup: net.genesis.rollup(named: source)!.id, index: relayTx.outputIndex))
            #expect(origin >= fact.windowEnd, "relayed at L1 \(origin), window ends \(fact.windowEnd)")
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
        let head = try await rpc.call("rollup_blockNumber").unsignedValue ?? 0
        var h = head
        while h > 0 {
            let block = try await rpc.call("rollup_getBlock", [.number(h), .bool(true)])
            for tx in block["transactions"]?.arrayValue ?? [] {
                if tx["call"]?["type"]?.stringValue == "relayMessage",
                    tx["call"]?["message"]?["id"]?.stringValue == id.hex,
                    let index = tx["call"]?["outputIndex"]?.unsignedValue
                {
                    let receipt = try await rpc.call("rollup_getReceipt", [tx["id"] ?? .null])
                    if receipt["success"]?.boolValue == true { return (.number(h), index) }
                }
            }
            h -= 1
        }
        throw RPCError.internalError("no successful relay of \(id)")
    }

    /// The source's node is down after it posted: the destination relays from the L1's DA.
    @Test func aDownSourceIsRelayedFromDA() async throws {
        var net = try Devnet("msg-down")
        defer { net.stop() }
        let key = DevKeys.account(0)
        let id = try await sendMessage(net, from: "alpha", key: key, to: "beta", recipient: DevKeys.account(8).address, target: "bank", value: [AssetAmount(ALPHA, 42)])
        // Wait until an output covers it, then stop alpha for good.
        #expect(try await eventually(30) {
            let s = try await net.rpc("alpha").call("rollup_getMessageStatus", [.string(id.hex)])["status"]?.stringValue
            return s == "inOutput" || s == "finalized" || s == "relayed"
        })
        #expect(net.nodes["alpha"]!.stop() == 0)
        net.nodes["alpha"] = nil
        #expect(try await eventually(90) {
            try await balance(net.rpc("beta"), DevKeys.account(8).address, "alpha/ALPHA") == 42
        })
    }
}
