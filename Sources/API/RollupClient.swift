import Config
import Foundation
import Primitives
import RPC
import StateMachine

/// A typed client of a rollup node's `rollup_*` methods (docs/rpc.md), over HTTP or any
/// `RPCTransport`: what the command line, the relayer and the harnesses submit and read through.
public struct RollupClient: Sendable {
    public let rpc: any RPCTransport

    /// A client of the rollup node at `url`, over HTTP.
    public init(url: String, timeout: Duration = .seconds(30)) {
        var rpc = RPCClient(url: url)
        rpc.timeout = .seconds(Int64(timeout.components.seconds))
        self.rpc = rpc
    }

    /// A client over `transport` (e.g. a dispatcher with the `rollup_*` methods registered).
    public init(transport: any RPCTransport) { rpc = transport }

    public var url: String { rpc.endpoint }

    public func blockNumber() async throws -> UInt64 {
        try Self.unsigned(try await rpc.call(RollupMethod.blockNumber), "block number")
    }

    /// `rollup_status` as the node answers it.
    public func status() async throws -> JSONValue { try await rpc.call(RollupMethod.status) }

    /// The nonce the sender's next transaction takes, counting those in the mempool.
    public func pendingNonce(of address: Address) async throws -> UInt64 {
        let nonces = try await rpc.call(RollupMethod.getNonce, [.string(address.hex)])
        return try Self.unsigned(nonces["pending"] ?? .null, "pending nonce")
    }

    /// Sends a signed transaction; returns its id.
    public func send(_ tx: SignedTransaction) async throws -> Hash {
        let id = try await rpc.call(RollupMethod.sendTransaction, [.string("0x" + Hex.encode(tx.canonicalBytes))])
        guard let text = id.stringValue, let hash = try? Hash(hex: text) else {
            throw RPCClient.TransportError.malformedResponse("a transaction id that is not a hash: \(id)")
        }
        return hash
    }

    /// Signs `call` with the sender's pending nonce and sends it. Without a `fee`, pays the node's
    /// mempool price (`minFeePerByte` in `rollup_status`, 1 when it does not say) for the signed size.
    public func submit(_ call: Call, key: SigningKey, fee: UInt64? = nil) async throws -> (id: Hash, nonce: UInt64) {
        let status = try await status()
        guard let rollup = status["rollup"]?.unsignedValue, let id = UInt32(exactly: rollup) else {
            throw RPCClient.TransportError.malformedResponse("the node did not report its rollup id")
        }
        let nonce = try await pendingNonce(of: key.address)
        var tx = Transaction(rollup: RollupID(id), nonce: nonce, sender: key.publicKey, fee: fee ?? 0, call: call)
        if fee == nil { tx = tx.payingMinimumFee(perByte: status["minFeePerByte"]?.unsignedValue ?? 1) }
        return (try await send(tx.signed(by: key)), nonce)
    }

    /// The receipt of transaction `id`, nil while it is not in a block.
    public func receipt(_ id: Hash) async throws -> JSONValue? {
        let receipt = try await rpc.call(RollupMethod.getReceipt, [.string(id.hex)])
        return receipt == .null ? nil : receipt
    }

    /// The messages this node's rollup sent to `destination` with nonces from `from`, in blocks up to
    /// `through`, each with its outbox proof against the outbox root at `through` (at most `limit`).
    /// Throws when the node has not reached `through`.
    public func messages(to destination: RollupID, from: UInt64, through: UInt64, limit: Int = 200) async throws
        -> [(Message, OutboxProof)]
    {
        let answer = try await rpc.call(
            RollupMethod.getMessages, [.number(destination.rawValue), .number(from), .number(through), .number(limit)])
        guard answer["throughHeight"]?.unsignedValue == through, case .array(let items)? = answer["messages"] else {
            throw RPCClient.TransportError.malformedResponse("\(url) has not reached block \(through)")
        }
        return try items.map { item in
            guard let m = item["encoded"]?.stringValue, let p = item["proof"]?["encoded"]?.stringValue else {
                throw RPCClient.TransportError.malformedResponse("a message without its encoding or proof")
            }
            return (
                try Message(canonicalBytes: try Hex.decode(m)), try OutboxProof(canonicalBytes: try Hex.decode(p))
            )
        }
    }

    static func unsigned(_ value: JSONValue, _ what: String) throws -> UInt64 {
        guard let n = value.unsignedValue else {
            throw RPCClient.TransportError.malformedResponse("\(what) is not an unsigned integer: \(value)")
        }
        return n
    }
}
