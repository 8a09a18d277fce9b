import Config
import Foundation
import Primitives
import RPC
import StateMachine

/// The typed client of a rollup node's `rollup_*` methods (`RollupAPI`, docs/rpc.md), over HTTP or
/// any `RPCTransport` (in process: an `RPCDispatcher` serving `RollupRPC`, the same bytes): what
/// the command line, the relayer, the harnesses and the nodes themselves submit and read through.
public struct RollupClient: RollupAPI {
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
        try await rpc.call(RollupMethod.blockNumber).unsigned("block number")
    }

    public func status() async throws -> RollupNodeStatus {
        try RollupNodeStatus(json: try await rpc.call(RollupMethod.status))
    }

    public func sendTransaction(_ tx: SignedTransaction) async throws -> Hash {
        let id = try await rpc.call(RollupMethod.sendTransaction, [.string("0x" + Hex.encode(tx.canonicalBytes))])
        guard let text = id.stringValue, let hash = try? Hash(hex: text), hash == tx.id else {
            throw RPCClient.TransportError.malformedResponse("the node answered \(id), not the transaction's id")
        }
        return hash
    }

    public func transaction(_ id: Hash) async throws -> TransactionLookup? {
        try TransactionLookup?(json: try await rpc.call(RollupMethod.getTransaction, [.string(id.hex)]))
    }

    public func receipt(_ id: Hash) async throws -> TransactionReceipt? {
        try TransactionReceipt?(json: try await rpc.call(RollupMethod.getReceipt, [.string(id.hex)]))
    }

    public func block(_ selector: BlockSelector?, full: Bool) async throws -> RollupBlock? {
        try RollupBlock?(
            json: try await rpc.call(RollupMethod.getBlock, [(selector ?? .latest).json, .bool(full)]))
    }

    public func account(_ address: Address, assets: [AssetName]?, proof: Bool) async throws -> Account {
        var options: [String: JSONValue] = ["proof": .bool(proof)]
        if let assets { options["assets"] = .array(assets.map { .string($0.rawValue) }) }
        return try Account(json: try await rpc.call(RollupMethod.getAccount, [.string(address.hex), .object(options)]))
    }

    public func nonce(of address: Address) async throws -> AccountNonces {
        try AccountNonces(json: try await rpc.call(RollupMethod.getNonce, [.string(address.hex)]))
    }

    public func message(_ id: Hash) async throws -> SentMessage? {
        try SentMessage?(json: try await rpc.call(RollupMethod.getMessage, [.string(id.hex)]))
    }

    public func messages(to destination: RollupID?, fromNonce: UInt64, through: UInt64?, limit: UInt64?) async throws
        -> MessagesPage?
    {
        try MessagesPage?(
            json: try await rpc.call(
                RollupMethod.getMessages,
                [
                    destination.map { .number($0.rawValue) } ?? .null, .number(fromNonce),
                    through.map { .number($0) } ?? .null, limit.map { .number($0) } ?? .null,
                ]))
    }

    public func messageProof(_ id: Hash, through: UInt64?) async throws -> MessageProof? {
        try MessageProof?(
            json: try await rpc.call(RollupMethod.getMessageProof, [.string(id.hex), through.map { .number($0) } ?? .null]))
    }

    public func relay(_ id: Hash) async throws -> Relay? {
        try Relay?(json: try await rpc.call(RollupMethod.getRelay, [.string(id.hex)]))
    }

    public func messageStatus(_ id: Hash) async throws -> MessageStatus? {
        try MessageStatus?(json: try await rpc.call(RollupMethod.getMessageStatus, [.string(id.hex)]))
    }

    public func mailbox(recipient: Address, source: RollupID, sender: Address) async throws -> [UInt8]? {
        let payload = try await rpc.call(
            RollupMethod.getMailbox, [.string(recipient.hex), .number(source.rawValue), .string(sender.hex)])
        guard payload != .null else { return nil }
        guard let text = payload.stringValue, let bytes = try? Hex.decode(text) else {
            throw RPCClient.TransportError.malformedResponse("a mailbox payload that is not hex: \(payload)")
        }
        return bytes
    }

    public func escrow(_ id: Hash) async throws -> Escrow? {
        try Escrow?(json: try await rpc.call(RollupMethod.getEscrow, [.string(id.hex)]))
    }
}

// MARK: Conveniences every implementation gets

extension RollupAPI {
    /// The nonce the sender's next transaction takes, counting those in the mempool.
    public func pendingNonce(of address: Address) async throws -> UInt64 { try await nonce(of: address).pending }

    /// Signs `call` with the sender's pending nonce and sends it. Without a `fee`, pays the node's
    /// mempool price (`minFeePerByte` in `rollup_status`) for the signed size.
    public func submit(_ call: Call, key: SigningKey, fee: UInt64? = nil) async throws -> (id: Hash, nonce: UInt64) {
        let status = try await status()
        let nonce = try await pendingNonce(of: key.address)
        var tx = Transaction(rollup: status.rollup, nonce: nonce, sender: key.publicKey, fee: fee ?? 0, call: call)
        if fee == nil { tx = tx.payingMinimumFee(perByte: status.minFeePerByte) }
        return (try await sendTransaction(tx.signed(by: key)), nonce)
    }

    /// The messages this node's rollup sent to `destination` with nonces from `from`, in blocks up to
    /// `through`, each with its outbox proof against the outbox root at `through` (at most `limit`).
    /// Throws when the node has not reached `through`.
    public func messages(to destination: RollupID, from: UInt64, through: UInt64, limit: Int = 200) async throws
        -> [(Message, OutboxProof)]
    {
        guard let page = try await messages(to: destination, fromNonce: from, through: through, limit: UInt64(limit)),
            page.throughHeight == through
        else {
            throw RPCClient.TransportError.malformedResponse("the node has not reached block \(through)")
        }
        return page.messages.map { ($0.sent.message, $0.proof) }
    }
}
