import API
import Chain
import Config
import Foundation
import Primitives
import RPC
import StateMachine

/// The message methods of a rollup node (docs/rpc.md, "Messages").
struct MessagesRPC: Sendable {
    let store: ChainStore
    let genesis: Genesis?
    let l1: L1Client?

    func register(into d: inout RPCDispatcher) {
        d.register(RollupMethod.getMessage) { try self.getMessage($0) }
        d.register(RollupMethod.getMessages) { try self.getMessages($0) }
        d.register(RollupMethod.getMessageProof) { try self.getMessageProof($0) }
        d.register(RollupMethod.getRelay) { try self.getRelay($0) }
        d.register(RollupMethod.getMessageStatus) { try await self.getMessageStatus($0) }
        d.register(RollupMethod.getMailbox) { try self.getMailbox($0) }
        d.register(RollupMethod.getEscrow) { try self.getEscrow($0) }
    }

    func id(_ params: RPCParams, _ i: Int, _ name: String) throws -> Hash {
        guard let id = try? Hash(hex: try params.string(i, name)) else {
            throw RPCError.invalidParams("parameter \(i) (\(name)) must be 32 bytes of hex")
        }
        return id
    }

    static func json(_ sent: ChainStore.SentMessage) -> JSONValue {
        var o = JSONForm.json(sent.message)
        o["height"] = .number(sent.height)
        o["encoded"] = .string("0x" + Hex.encode(sent.message.canonicalBytes))
        return .object(o)
    }

    static func json(_ proof: OutboxProof) -> JSONValue {
        .object([
            "index": .number(proof.index), "treeSize": .number(proof.treeSize),
            "path": .array(proof.path.map { .string($0.hex) }),
            "encoded": .string("0x" + Hex.encode(proof.canonicalBytes)),
        ])
    }

    /// `[id]`: a message this rollup sent, or null.
    func getMessage(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        guard let sent = try store.sentMessage(try id(params, 0, "message id")) else { return .null }
        return Self.json(sent)
    }

    /// `[destination?, fromNonce?, throughHeight?, limit?]`: messages sent (to `destination`, or
    /// all when null) from a nonce on, in blocks up to a height (default: the head), each with its
    /// proof against the outbox root after that block.
    func getMessages(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 4)
        let destination = try params.optional(0).map { v -> RollupID in
            guard let n = v.unsignedValue, n <= UInt64(UInt32.max) else {
                throw RPCError.invalidParams("parameter 0 (destination) must be a rollup id or null")
            }
            return RollupID(UInt32(n))
        }
        let from = try params.unsigned(1, "fromNonce", default: 0)
        let head = try store.head()
        let through = min(try params.unsigned(2, "throughHeight", default: head.height), head.height)
        let limit = Int(min(try params.unsigned(3, "limit", default: 100), 1000))
        guard let header = try store.header(at: through) else { return .null }
        let (size, found) = try store.messages(to: destination, fromNonce: from, throughHeight: through, limit: limit)
        return .object([
            "throughHeight": .number(through), "treeSize": .number(size), "outboxRoot": .string(header.outboxRoot.hex),
            "messages": .array(
                found.map { sent, proof in
                    var o = Self.json(sent)
                    if case .object(var fields) = o {
                        fields["proof"] = Self.json(proof)
                        o = .object(fields)
                    }
                    return o
                }),
        ])
    }

    /// `[id, throughHeight?]`: the proof of a sent message against the outbox after a block.
    func getMessageProof(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 2)
        guard let sent = try store.sentMessage(try id(params, 0, "message id")) else { return .null }
        let head = try store.head()
        let through = min(try params.unsigned(1, "throughHeight", default: head.height), head.height)
        guard through >= sent.height, let header = try store.header(at: through) else {
            throw RPCError(
                code: RollupErrorCode.notFound,
                message: "the message was sent in block \(sent.height), after block \(through)")
        }
        let size = try store.outboxCount(at: through)
        return .object([
            "proof": Self.json(try store.outboxProof(nonce: sent.message.nonce, treeSize: size)),
            "outboxRoot": .string(header.outboxRoot.hex), "throughHeight": .number(through),
        ])
    }

    /// `[id]`: what became of a message relayed here, or null.
    func getRelay(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        guard let record = try store.relayRecord(try id(params, 0, "message id")) else { return .null }
        return .object([
            "status": .string("\(record.status)"), "success": .bool(record.status == .success),
            "returnMessage": record.bounce == .zero ? .null : .string(record.bounce.hex),
        ])
    }

    /// `[recipient, source rollup, sender]`: the latest mailbox payload.
    func getMailbox(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 3)
        guard let recipient = try? Address(hex: try params.string(0, "recipient")),
            let sender = try? Address(hex: try params.string(2, "sender"))
        else { throw RPCError.invalidParams("recipient and sender must be 20-byte addresses") }
        let source = RollupID(UInt32(truncatingIfNeeded: try params.unsigned(1, "source rollup")))
        let payload = try store.withState {
            try $0.state.get(StateKey.mailbox(recipient: recipient, source: source, sender: sender))
        }
        return payload.map { .string("0x" + Hex.encode($0)) } ?? .null
    }

    /// `[lock id]`: an escrow lock (its id is the id of the message that made it), or null.
    func getEscrow(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        let lockID = try id(params, 0, "lock id")
        guard let raw = try store.withState({ try $0.state.get(StateKey.escrow(lockID)) }) else { return .null }
        let lock = try EscrowLock(canonicalBytes: raw)
        return .object([
            "id": .string(lockID.hex), "source": .number(lock.source.rawValue), "sender": .string(lock.sender.hex),
            "beneficiary": .string(lock.beneficiary.hex), "value": JSONForm.json(lock.value),
            "hashLock": .string(lock.hashLock.hex), "timeout": .number(lock.timeout),
        ])
    }

    /// `[id]`: a message's state end to end: `sent → inOutput → finalized → relayed | failed
    /// (bounced)`, from the sending node (which asks the L1 and the destination node).
    func getMessageStatus(_ params: RPCParams) async throws -> JSONValue {
        try params.expect(atMost: 1)
        let messageID = try id(params, 0, "message id")
        guard let sent = try store.sentMessage(messageID) else {
            // Relayed here?
            if let record = try store.relayRecord(messageID) {
                return .object([
                    "id": .string(messageID.hex), "status": .string(record.status == .success ? "relayed" : "failed"),
                    "relay": .string("\(record.status)"),
                    "returnMessage": record.bounce == .zero ? .null : .string(record.bounce.hex),
                ])
            }
            return .null
        }
        var o: [String: JSONValue] = [
            "id": .string(messageID.hex), "source": .number(sent.message.source.rawValue),
            "destination": .number(sent.message.destination.rawValue), "nonce": .number(sent.message.nonce),
            "sentInBlock": .number(sent.height), "status": .string("sent"),
        ]
        guard let l1 else { return .object(o) }
        let outputs = try await l1.outputs(rollup: store.rollup.id)
        if let covering = outputs.first(where: { $0.status != .invalidated && $0.output.l2Height >= sent.height }) {
            o["output"] = .number(covering.index)
            o["status"] = .string(covering.status == .finalized ? "finalized" : "inOutput")
            o["blocksLeft"] = .number(covering.blocksLeft)
            o["windowEndsAt"] = .number(covering.windowEnd)
        }
        guard o["status"] == .string("finalized"),
            let destination = genesis?.rollup(id: sent.message.destination)
        else { return .object(o) }
        do {
            let relay = try await RPCClient(url: destination.rpc).call(RollupMethod.getRelay, [.string(messageID.hex)])
            if relay != .null {
                o["status"] = .string(relay["success"]?.boolValue == true ? "relayed" : "failed")
                o["relay"] = relay["status"]
                o["returnMessage"] = relay["returnMessage"]
            }
        } catch {
            o["destinationUnreachable"] = .string(destination.rpc)
        }
        return .object(o)
    }
}
