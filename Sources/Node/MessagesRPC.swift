import API
import Chain
import Config
import Foundation
import Primitives
import RPC
import StateMachine

/// The message methods of a rollup node (docs/rpc.md, "Messages").
extension RollupRPC {
    public func message(_ id: Hash) throws -> SentMessage? {
        try store.sentMessage(id).map { SentMessage(message: $0.message, height: $0.height) }
    }

    public func messages(to destination: RollupID?, fromNonce from: UInt64, through: UInt64?, limit: UInt64?) throws
        -> MessagesPage?
    {
        let head = try store.head()
        let through = min(through ?? head.height, head.height)
        let limit = Int(min(limit ?? 100, 1000))
        guard let header = try store.header(at: through) else { return nil }
        let (size, found) = try store.messages(to: destination, fromNonce: from, throughHeight: through, limit: limit)
        return MessagesPage(
            throughHeight: through, treeSize: size, outboxRoot: header.outboxRoot,
            messages: found.map { sent, proof in
                MessagesPage.Proven(sent: SentMessage(message: sent.message, height: sent.height), proof: proof)
            })
    }

    public func messageProof(_ id: Hash, through: UInt64?) throws -> MessageProof? {
        guard let sent = try store.sentMessage(id) else { return nil }
        let head = try store.head()
        let through = min(through ?? head.height, head.height)
        guard through >= sent.height, let header = try store.header(at: through) else {
            throw RPCError(
                code: RollupErrorCode.notFound,
                message: "the message was sent in block \(sent.height), after block \(through)")
        }
        let size = try store.outboxCount(at: through)
        return MessageProof(
            proof: try store.outboxProof(nonce: sent.message.nonce, treeSize: size), outboxRoot: header.outboxRoot,
            throughHeight: through)
    }

    public func relay(_ id: Hash) throws -> Relay? {
        try store.relayRecord(id).map { Relay(status: $0.status, returnMessage: $0.bounce == .zero ? nil : $0.bounce) }
    }

    public func mailbox(recipient: Address, source: RollupID, sender: Address) throws -> [UInt8]? {
        try store.withState {
            try $0.state.get(StateKey.mailbox(recipient: recipient, source: source, sender: sender))
        }
    }

    public func escrow(_ id: Hash) throws -> Escrow? {
        guard let raw = try store.withState({ try $0.state.get(StateKey.escrow(id)) }) else { return nil }
        return Escrow(id: id, lock: try EscrowLock(canonicalBytes: raw))
    }

    /// A message's state end to end: `sent → inOutput → finalized → relayed | failed (bounced)`,
    /// from the sending node (which asks the L1 and the destination node).
    public func messageStatus(_ id: Hash) async throws -> MessageStatus? {
        guard let sent = try store.sentMessage(id) else {
            // Relayed here?
            guard let record = try relay(id) else { return nil }
            return MessageStatus(
                id: id, stage: record.success ? .relayed : .failed, relay: record.status,
                returnMessage: record.returnMessage)
        }
        var status = MessageStatus(
            id: id, stage: .sent,
            route: MessageStatus.Route(
                source: sent.message.source, destination: sent.message.destination, nonce: sent.message.nonce,
                sentInBlock: sent.height))
        guard let l1 else { return status }
        let outputs = try await l1.outputs(rollup: store.rollup.id)
        if let covering = outputs.first(where: { $0.status != .invalidated && $0.output.l2Height >= sent.height }) {
            status.covering = MessageStatus.Covering(
                output: covering.index, blocksLeft: covering.blocksLeft, windowEnd: covering.windowEnd)
            status.stage = covering.status == .finalized ? .finalized : .inOutput
        }
        guard status.stage == .finalized, let destination = genesis?.rollup(id: sent.message.destination) else {
            return status
        }
        do {
            if let relay = try await RollupClient(url: destination.rpc).relay(id) {
                status.stage = relay.success ? .relayed : .failed
                status.relay = relay.status
                status.returnMessage = relay.returnMessage
            }
        } catch {
            status.destinationUnreachable = destination.rpc
        }
        return status
    }
}
