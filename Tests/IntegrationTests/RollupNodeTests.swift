import API
import Chain
import Config
import Foundation
import Primitives
import RPC
import Settlement
import StateMachine
import StateTree
import Testing
import TributaryTesting

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let devnetGenesis = repositoryRoot.appendingPathComponent("Genesis/devnet.json").path
let ALPHA = AssetName(rawValue: "ALPHA")!

/// A rollup node for one test: its own datadir and a free port.
func startAlpha(_ dir: TemporaryDirectory) throws -> NodeProcess {
    try NodeProcess(
        [
            "node", "--genesis", devnetGenesis, "--rollup", "alpha", "--datadir", dir.appending("alpha"), "--rpc-port",
            "0", "--standalone",
        ],
        logPath: dir.appending("alpha.log"))
}

func signedTransfer(_ from: SigningKey, nonce: UInt64, to: Address, amount: UInt64, fee: UInt64 = 200, rollup: UInt32 = 1)
    -> SignedTransaction
{
    Transaction(
        rollup: RollupID(rollup), nonce: nonce, sender: from.publicKey, fee: fee,
        call: .transfer(to: to, asset: ALPHA, amount: amount)
    ).signed(by: from)
}

func hexParam(_ tx: SignedTransaction) -> JSONValue { .string("0x" + Hex.encode(tx.canonicalBytes)) }

@Suite(.serialized) struct RollupNodeTests {
    @Test func twoThousandSignedTransfersFromSeveralSendersLandExactly() async throws {
        let dir = try TemporaryDirectory("node")
        let node = try startAlpha(dir)
        let rpc = RPCClient(url: node.url)
        let alpha = try #require(try Genesis.load(path: devnetGenesis).rollup(named: "alpha"))
        let senders = (0..<8).map { DevKeys.account($0) }
        let recipients =
            (0..<10).map { DevKeys.account($0).address } + (0..<6).map { DevKeys.account(100 + $0).address }
        var rng = SplitMix64(seed: 2000)
        var expected: [Address: UInt64] = [:]
        for i in 0..<alpha.devAccountCount { expected[DevKeys.account(i).address] = alpha.devAccountBalance }
        var transactions: [SignedTransaction] = []
        // Round-robin over the senders, as pipelining clients send: each sender's nonces arrive in a
        // spread of requests, so reordering among 32 in flight leaves few of them behind a gap (the
        // mempool holds at most 64 per sender there).
        for nonce in 0..<250 {
            for sender in senders {
                let to = recipients[Int(rng.next() % UInt64(recipients.count))]
                let amount = 1 + rng.next() % 10_000
                transactions.append(signedTransfer(sender, nonce: UInt64(nonce), to: to, amount: amount, fee: 200))
                expected[sender.address, default: 0] -= amount + 200
                expected[to, default: 0] += amount
            }
        }
        expected[alpha.sequencer.publicKey.address, default: 0] += 200 * 2_000
        // Send concurrently, 32 requests in flight.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, tx) in transactions.enumerated() {
                if i >= 32 { try await group.next() }
                group.addTask {
                    let id = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
                    #expect(id.stringValue == tx.id.hex)
                }
            }
            try await group.waitForAll()
        }
        let landed = try await eventually(120) {
            var done = true
            for sender in senders {
                let account = try await rpc.call(RollupMethod.getNonce, [.string(sender.address.hex)])
                if account["nonce"]?.unsignedValue != 250 { done = false }
            }
            return done
        }
        #expect(landed)
        for tx in transactions {
            let receipt = try await rpc.call(RollupMethod.getReceipt, [.string(tx.id.hex)])
            #expect(receipt["status"]?.stringValue == "success", "\(tx.id)")
            #expect(receipt["feePaid"]?.unsignedValue == 200)
        }
        for (address, balance) in expected {
            let account = try await rpc.call(RollupMethod.getAccount, [.string(address.hex)])
            #expect(account["balances"]?["ALPHA"]?.unsignedValue == balance, "\(address)")
        }
        // A balance with its proof verifies against the reported state root.
        let proven = try await rpc.call(
            RollupMethod.getAccount, [.string(senders[0].address.hex), .object(["proof": .bool(true)])])
        let root = try Hash(hex: try #require(proven["stateRoot"]?.stringValue))
        let proofBytes = try Hex.decode(try #require(proven["proofs"]?["balance:ALPHA"]?.stringValue))
        let proof = try SparseMerkleProof(canonicalBytes: proofBytes)
        let balance = try #require(proven["balances"]?["ALPHA"]?.unsignedValue)
        #expect(
            proof.verify(key: StateKey.balance(senders[0].address, ALPHA), value: balance.canonicalBytes, root: root))
        #expect(
            !proof.verify(
                key: StateKey.balance(senders[0].address, ALPHA), value: (balance + 1).canonicalBytes, root: root))
        #expect(node.stop() == 0)
        let store = try ChainStore(datadir: dir.appending("alpha"), rollup: alpha, network: Network(try Genesis.load(path: devnetGenesis)))
        #expect(try store.verify() >= 1)
    }

    @Test func badInputIsRefusedWithItsErrorAndChangesNothing() async throws {
        let dir = try TemporaryDirectory("node")
        let node = try startAlpha(dir)
        defer { node.stop() }
        let rpc = RPCClient(url: node.url)
        let dev0 = DevKeys.account(0), dev1 = DevKeys.account(1)
        func code(_ body: String) async throws -> Int? {
            let reply = try await rpc.post(Data(body.utf8))
            if case .integer(let c)? = reply["error"]?["code"] { return Int(c) }
            return nil
        }
        func callCode(_ method: String, _ params: [JSONValue]) async -> Int? {
            do {
                _ = try await rpc.call(method, params)
                return nil
            } catch let error as RPCError {
                return error.code
            } catch {
                return nil
            }
        }
        let before = try await rpc.call(RollupMethod.getAccount, [.string(dev0.address.hex)])
        #expect(try await code("{not json") == -32700)
        #expect(try await code(#"{"jsonrpc":"1.0","id":1,"method":"rollup_status"}"#) == -32600)
        #expect(try await code(#"{"jsonrpc":"2.0","id":1,"method":"rollup_status","params":{"a":1}}"#) == -32602)
        #expect(try await code(#"{"jsonrpc":"2.0","id":1,"method":"rollup_nope"}"#) == -32601)
        #expect(try await code("[]") == -32600)
        #expect(await callCode("rollup_sendTransaction", [.integer(5)]) == -32602)
        #expect(await callCode("rollup_sendTransaction", [.string("0x00ff")]) == -32602)
        #expect(await callCode("rollup_getAccount", [.string("0x1234")]) == -32602)
        // Size is checked before decoding: 8,193 bytes are -32010 whatever they hold, 8,192 bytes
        // that are no transaction are -32602 (docs/rpc.md).
        let tooBig = "0x" + String(repeating: "00", count: 8193)
        #expect(await callCode("rollup_sendTransaction", [.string(tooBig)]) == -32010)
        #expect(await callCode("rollup_sendTransaction", [.string("0x" + String(repeating: "00", count: 8192))]) == -32602)
        // A sendMessage value of five assets is not a canonical transaction (docs/protocol.md).
        let five = (0..<5).map { AssetAmount(AssetName(rawValue: "A\($0)")!, 1) }
        let fiveAssets = Transaction(
            rollup: RollupID(1), nonce: 0, sender: dev0.publicKey, fee: 100_000,
            call: .sendMessage(destination: RollupID(2), target: "bank", recipient: dev1.address, value: five, payload: [])
        ).signed(by: dev0)
        #expect(await callCode("rollup_sendTransaction", [hexParam(fiveAssets)]) == -32602)
        let oversized =
            #"{"jsonrpc":"2.0","id":1,"method":"rollup_sendTransaction","params":[""#
            + String(repeating: "a", count: 2 << 20) + #""]}"#
        #expect(try await code(oversized) == -32600)
        var forged = signedTransfer(dev0, nonce: 0, to: dev1.address, amount: 5)
        forged.transaction.call = .transfer(to: dev1.address, asset: ALPHA, amount: 5_000_000)
        #expect(await callCode("rollup_sendTransaction", [hexParam(forged)]) == -32001)
        #expect(
            await callCode(
                "rollup_sendTransaction",
                [hexParam(signedTransfer(dev0, nonce: 0, to: dev1.address, amount: 5, rollup: 2))]) == -32002)
        #expect(
            await callCode(
                "rollup_sendTransaction",
                [hexParam(signedTransfer(dev0, nonce: 0, to: dev1.address, amount: 5, fee: UInt64.max))]) == -32005)
        // A batch answers each request.
        let batch = try await rpc.post(
            Data(
                #"[{"jsonrpc":"2.0","id":1,"method":"rollup_blockNumber"},{"jsonrpc":"2.0","id":2,"method":"x"}]"#.utf8)
        )
        if case .array(let replies) = batch {
            #expect(replies.count == 2)
        } else {
            Issue.record("batch reply is not an array")
        }
        // Nothing above changed the account.
        let after = try await rpc.call(RollupMethod.getAccount, [.string(dev0.address.hex)])
        #expect(after["balances"] == before["balances"])
        #expect(after["nonce"] == before["nonce"])
        // A replayed nonce: include one transaction, then send it (and another with its nonce) again.
        let good = signedTransfer(dev0, nonce: 0, to: dev1.address, amount: 5)
        _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(good)])
        #expect(await callCode("rollup_sendTransaction", [hexParam(good)]) == -32006)
        #expect(try await eventually(30) { try await rpc.call(RollupMethod.getReceipt, [.string(good.id.hex)]) != .null })
        #expect(await callCode("rollup_sendTransaction", [hexParam(good)]) == -32003)
        #expect(
            await callCode(
                "rollup_sendTransaction", [hexParam(signedTransfer(dev0, nonce: 0, to: dev1.address, amount: 6))])
                == -32003)
        // Hostile bodies: deep nesting, a 5,000-digit number, binary garbage, an oversized batch.
        #expect(
            try await code(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)) == -32700)
        #expect(
            try await code(String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000))
                == -32700)
        let longNumber =
            #"{"jsonrpc":"2.0","id":1,"method":"rollup_getBlock","params":[1"# + String(repeating: "0", count: 5000)
            + "]}"
        #expect(try await code(longNumber) == -32700)
        #expect(try await code(#"{"jsonrpc":"2.0","id":1,"method":"rollup_getBlock","params":[-1]}"#) == -32602)
        #expect(
            try await code(String(decoding: (0..<2560).map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)) == -32700)
        let batch1001 =
            "["
            + (0..<1001).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"rollup_blockNumber"}"# }.joined(separator: ",")
            + "]"
        #expect(try await code(batch1001) == -32600)
        // … and the node still serves.
        let health = try await Command.run(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", node.url + "/health"])
        #expect(health.output == "200")
    }

    @Test func killedNodesLoseNoTransactionWhoseReceiptWasReturned() async throws {
        let dir = try TemporaryDirectory("node-crash")
        let alpha = try #require(try Genesis.load(path: devnetGenesis).rollup(named: "alpha"))
        let senders = (0..<4).map { DevKeys.account($0) }
        var acknowledged: [Hash] = []
        var rng = SplitMix64(seed: 9)
        for round in 0..<4 {
            let node = try startAlpha(dir)
            let rpc = RPCClient(url: node.url)
            let seen = LockedBox<[Hash]>([])
            let load = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for sender in senders {
                        group.addTask {
                            var nonce =
                                try await rpc.call(RollupMethod.getNonce, [.string(sender.address.hex)])["nonce"]?
                                .unsignedValue ?? 0
                            while !Task.isCancelled {
                                let tx = signedTransfer(sender, nonce: nonce, to: DevKeys.account(7).address, amount: 1)
                                _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
                                while try await rpc.call(RollupMethod.getReceipt, [.string(tx.id.hex)]) == .null {
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                                seen.value.append(tx.id)
                                nonce += 1
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await Task.sleep(for: .milliseconds(800 + Int(rng.next() % 1200)))
            node.kill()
            load.cancel()
            _ = await load.result
            acknowledged += seen.value
            // Everything acknowledged so far is in the store, and the store verifies.
            let store = try ChainStore(datadir: dir.appending("alpha"), rollup: alpha, network: Network(try Genesis.load(path: devnetGenesis)))
            for id in acknowledged {
                #expect(try store.location(ofTransaction: id) != nil, "round \(round): \(id) lost")
            }
            #expect(try store.verify() >= 0)
        }
        #expect(acknowledged.count > 10)
    }
}
