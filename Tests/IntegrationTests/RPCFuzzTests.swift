import API
import Config
import Foundation
import Primitives
import RPC
import Testing
import TributaryTesting

/// Random and mutated JSON-RPC bodies over real HTTP against a running L1 and rollup node: every
/// one is answered (or refused) without harm, the processes keep serving and producing blocks, and
/// their stores verify afterwards.
@Suite(.serialized) struct RPCFuzzTests {
    static let rollupMethods = [
        "rollup_sendTransaction", "rollup_getTransaction", "rollup_getReceipt", "rollup_getBlock", "rollup_blockNumber",
        "rollup_getAccount", "rollup_getNonce", "rollup_status", "rollup_getMessage", "rollup_getMessages",
        "rollup_getMessageProof", "rollup_getRelay", "rollup_getMessageStatus", "rollup_getMailbox", "rollup_getEscrow",
    ]
    static let l1Methods = [
        "l1_blockNumber", "l1_getBlock", "l1_postBlob", "l1_getBlob", "l1_getBlobs", "l1_proposeOutput",
        "l1_getOutputs", "l1_challenge", "l1_getChallenge", "l1_getBalance", "l1_status",
    ]

    /// A random JSON value, sometimes hostile: huge numbers, deep nesting, long strings, bad hex.
    static func value(_ rng: inout SplitMix64, depth: Int = 0) -> String {
        switch rng.next() % 14 {
        case 0: return "null"
        case 1: return rng.next() % 2 == 0 ? "true" : "false"
        case 2: return String(rng.next())
        case 3: return "-" + String(rng.next() % 1_000_000)
        case 4: return "1" + String(repeating: "0", count: Int(rng.next() % 400))
        case 5: return "1.5e\(Int(rng.next() % 600) - 300)"
        case 6:
            return "\"0x" + (0..<Int(rng.next() % 300)).map { _ in String(rng.next() % 16, radix: 16) }.joined() + "\""
        case 7: return "\"" + String(repeating: "A", count: Int(rng.next() % 5000)) + "\""
        case 8: return "\"latest\""
        case 9: return "\"alpha\""
        case 10:
            let n = Int(rng.next() % 300) + 1
            return String(repeating: "[", count: n) + String(repeating: "]", count: n)
        case 11 where depth < 3:
            return "[" + (0..<Int(rng.next() % 4)).map { _ in value(&rng, depth: depth + 1) }.joined(separator: ",")
                + "]"
        case 12 where depth < 3:
            return "{\"proof\":" + value(&rng, depth: depth + 1) + ",\"assets\":" + value(&rng, depth: depth + 1) + "}"
        default: return "\"\\u0000\\ud800\""
        }
    }

    static func body(_ rng: inout SplitMix64, methods: [String]) -> Data {
        func request() -> String {
            let method =
                rng.next() % 10 == 0 ? "nope_\(rng.next() % 100)" : methods[Int(rng.next() % UInt64(methods.count))]
            let params = "[" + (0..<Int(rng.next() % 4)).map { _ in value(&rng) }.joined(separator: ",") + "]"
            let id = rng.next() % 3 == 0 ? "null" : String(rng.next() % 1000)
            return "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(method)\",\"params\":\(params)}"
        }
        switch rng.next() % 10 {
        case 0: return Data((0..<Int(rng.next() % 2000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case 1:
            let requests: [String] = (0..<Int(rng.next() % 20)).map { _ in request() }
            let batch: String = "[" + requests.joined(separator: ",") + "]"
            return Data(batch.utf8)
        case 2:
            var bytes = Array(request().utf8)
            for _ in 0..<4 where !bytes.isEmpty {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            return Data(bytes)
        case 3: return Data(request().utf8.prefix(Int(rng.next() % 60)))
        default: return Data(request().utf8)
        }
    }

    func fuzz(_ url: String, methods: [String], count: Int, seed: UInt64) async throws -> Int {
        var rng = SplitMix64(seed: seed)
        var client = RPCClient(url: url)
        client.timeout = .seconds(20)
        var answered = 0
        for _ in 0..<count {
            let body = Self.body(&rng, methods: methods)
            do {
                _ = try await client.post(body)
                answered += 1
            } catch RPCClient.TransportError.malformedResponse {
                // A notification (no id) is answered with 204 and no body.
                answered += 1
            }
        }
        return answered
    }

    @Test func hostileBodiesLeaveTheL1AndARollupNodeServingAndTheirStoresValid() async throws {
        let dir = try TemporaryDirectory("rpc-fuzz")
        let genesis = try fastGenesis(dir, window: 10)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url), l1 = RPCClient(url: l1Node.url)
        let before = try await alpha.call(RollupMethod.blockNumber).unsignedValue ?? 0
        #expect(try await fuzz(alphaNode.url, methods: Self.rollupMethods, count: 1500, seed: 1) == 1500)
        #expect(try await fuzz(l1Node.url, methods: Self.l1Methods, count: 1500, seed: 2) == 1500)
        // Oversized bodies are refused with 413 and a JSON-RPC error.
        let huge = try await alpha.post(Data(repeating: 0x5b, count: 2 << 20))
        #expect(huge["error"] != nil)
        // Still serving, still producing, still taking real transactions.
        #expect(
            try await eventually(10) { (try await alpha.call(RollupMethod.blockNumber).unsignedValue ?? 0) > before + 5 })
        let tx = signedTransfer(DevKeys.account(0), nonce: 0, to: DevKeys.account(1).address, amount: 3)
        _ = try await alpha.call(RollupMethod.sendTransaction, [hexParam(tx)])
        #expect(
            try await eventually(10) {
                try await alpha.call(RollupMethod.getReceipt, [.string(tx.id.hex)])["success"]?.boolValue == true
            })
        #expect((try await l1.call(L1Method.blockNumber).unsignedValue ?? 0) > 0)
        #expect(alphaNode.stop() == 0)
        #expect(l1Node.stop() == 0)
        // Both stores verify from genesis.
        let rollupVerify = try TributaryBinary.run([
            "db", "verify", "--datadir", dir.appending("alpha"), "--genesis", genesis,
        ])
        #expect(rollupVerify.status == 0, "\(rollupVerify.output) \(rollupVerify.stderr)")
        let l1Verify = try TributaryBinary.run(["db", "verify", "--datadir", dir.appending("l1"), "--genesis", genesis])
        #expect(l1Verify.status == 0, "\(l1Verify.output) \(l1Verify.stderr)")
    }
}
