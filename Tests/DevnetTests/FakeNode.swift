import API
import Config
import Primitives
import RPC
import Synchronization

/// A tiny in-memory rollup node behind `RPCTransport`: it keeps each sender's pending nonce, takes a
/// transaction only at that nonce (or refuses what `refuse` picks), and serves the blocks it is
/// given. What the load generator and the block follower are tested against.
final class FakeNode: RPCTransport {
    struct State {
        var pending: [String: UInt64] = [:]
        var sent: [Transaction] = []
        var blocks: [JSONValue] = []
        var calls: [(method: String, params: [JSONValue])] = []
        var failures = 0
    }

    let state = Mutex(State())
    /// Refuses the `n`-th transaction offered (from 0) when true.
    let refuse: @Sendable (Int) -> Bool

    init(refuse: @escaping @Sendable (Int) -> Bool = { _ in false }) { self.refuse = refuse }

    var endpoint: String { "fake" }

    var sent: [Transaction] { state.withLock { $0.sent } }

    /// Loses the mempool, as a crashed sequencer does: every pending nonce back to `nonce`.
    func crash(to nonce: UInt64) { state.withLock { s in for k in s.pending.keys { s.pending[k] = nonce } } }

    /// The next `count` calls fail as if the node were down.
    func fail(next count: Int) { state.withLock { $0.failures = count } }

    func append(block: JSONValue) { state.withLock { $0.blocks.append(block) } }

    func call(_ method: String, _ params: [JSONValue]) async throws -> JSONValue {
        try state.withLock { s in
            s.calls.append((method, params))
            if s.failures > 0 {
                s.failures -= 1
                throw RPCClient.TransportError.http(status: 503, body: "down")
            }
            switch method {
            case RollupMethod.getNonce.rawValue:
                let address = params.first?.stringValue ?? ""
                let pending = s.pending[address, default: 0]
                return AccountNonces(nonce: pending, pending: pending).json
            case RollupMethod.sendTransaction.rawValue:
                let raw = try Hex.decode(params.first?.stringValue ?? "")
                let tx = try SignedTransaction(canonicalBytes: raw).transaction
                let address = tx.sender.address.hex
                let offered = s.sent.count
                s.sent.append(tx)
                if refuse(offered) || tx.nonce != s.pending[address, default: 0] {
                    throw RPCError(code: -32000, message: "refused")
                }
                s.pending[address] = tx.nonce + 1
                return .string(tx.id.hex)
            case RollupMethod.blockNumber.rawValue:
                return .number(s.blocks.count)
            case RollupMethod.getBlock.rawValue:
                guard let height = params.first?.unsignedValue, height >= 1, height <= s.blocks.count else {
                    return .null
                }
                return s.blocks[Int(height) - 1]
            default:
                throw RPCError(code: -32601, message: "no method \(method)")
            }
        }
    }
}
