import Config
import L1Chain
import Primitives
import Settlement
import StateMachine

/// The JSON form of every protocol value the RPC serves and the operator tools print: written
/// once, so `rollup_getBlock` and `db block`, `l1_getOutputs` and `db outputs` say the same thing
/// in the same words (docs/rpc.md).
public enum JSONForm {

    public static func json(_ header: BlockHeader) -> [String: JSONValue] {
        [
            "rollup": .number(header.rollup.rawValue), "height": .number(header.height),
            "hash": .string(header.hash.hex),
            "parent": .string(header.parent.hex),
            "l1Origin": .object(["height": .number(header.l1Origin.height), "hash": .string(header.l1Origin.hash.hex)]),
            "timestamp": .number(header.timestamp), "transactionsRoot": .string(header.transactionsRoot.hex),
            "stateRoot": .string(header.stateRoot.hex), "outboxRoot": .string(header.outboxRoot.hex),
            "receiptsRoot": .string(header.receiptsRoot.hex),
        ]
    }

    /// A block: its header and its transactions, whole (`full`) or as their ids (`rollup_getBlock`).
    public static func json(_ block: Block, full: Bool) -> [String: JSONValue] {
        var form = json(block.header)
        form["transactions"] = .array(block.transactions.map { full ? .object(json($0)) : .string($0.id.hex) })
        return form
    }

    public static func json(_ value: [AssetAmount]) -> JSONValue {
        .array(value.map { .object(["asset": .string($0.asset.rawValue), "amount": .number($0.amount)]) })
    }

    public static func json(_ m: Message) -> [String: JSONValue] {
        [
            "id": .string(m.id.hex), "source": .number(m.source.rawValue), "nonce": .number(m.nonce),
            "sender": .string(m.sender.hex), "destination": .number(m.destination.rawValue),
            "target": .string(m.target),
            "recipient": .string(m.recipient.hex), "value": json(m.value),
            "payload": .string("0x" + Hex.encode(m.payload)),
        ]
    }

    public static func json(_ tx: SignedTransaction) -> [String: JSONValue] {
        let t = tx.transaction
        var call: [String: JSONValue]
        switch t.call {
        case .transfer(let to, let asset, let amount):
            call = [
                "type": .string("transfer"), "to": .string(to.hex), "asset": .string(asset.rawValue),
                "amount": .number(amount),
            ]
        case .sendMessage(let destination, let target, let recipient, let value, let payload):
            call = [
                "type": .string("sendMessage"), "destination": .number(destination.rawValue), "target": .string(target),
                "recipient": .string(recipient.hex), "value": json(value),
                "payload": .string("0x" + Hex.encode(payload)),
            ]
        case .relayMessage(let message, let proof, let outputIndex):
            call = [
                "type": .string("relayMessage"), "message": .object(json(message)), "outputIndex": .number(outputIndex),
                "proof": .object([
                    "index": .number(proof.index), "treeSize": .number(proof.treeSize),
                    "path": .array(proof.path.map { .string($0.hex) }),
                ]),
            ]
        case .escrowClaim(let id, let preimage):
            call = [
                "type": .string("escrowClaim"), "lock": .string(id.hex),
                "preimage": .string("0x" + Hex.encode(preimage)),
            ]
        case .escrowRefund(let id):
            call = ["type": .string("escrowRefund"), "lock": .string(id.hex)]
        }
        return [
            "id": .string(tx.id.hex), "rollup": .number(t.rollup.rawValue), "nonce": .number(t.nonce),
            "sender": .string(t.sender.hex), "from": .string(t.senderAddress.hex), "fee": .number(t.fee),
            "call": .object(call),
            "signature": .string(tx.signature.hex),
        ]
    }

    // MARK: L1

    public static func json(_ header: L1BlockHeader) -> [String: JSONValue] {
        [
            "height": .number(header.height), "hash": .string(header.hash.hex), "parent": .string(header.parent.hex),
            "timestamp": .number(header.timestamp), "entriesRoot": .string(header.entriesRoot.hex),
        ]
    }

    /// An L1 block: its header and, as `transactions`, the entries it accepted.
    public static func json(_ header: L1BlockHeader, body: L1Body) -> JSONValue {
        var form = json(header)
        form["transactions"] = .array(body.entries.map { json($0) })
        return .object(form)
    }

    public static func json(_ entry: L1Entry) -> JSONValue {
        switch entry {
        case .blob(let header, let commitment, let size, let signature):
            return .object([
                "type": .string("postBlob"), "id": .string(entry.id.hex), "rollup": .number(header.rollup.rawValue),
                "seq": .number(header.seq), "firstHeight": .number(header.firstHeight),
                "lastHeight": .number(header.lastHeight), "commitment": .string(commitment.hex), "size": .number(size),
                "signature": .string(signature.hex),
            ])
        case .output(let index, let proposal):
            return .object([
                "type": .string("proposeOutput"), "id": .string(entry.id.hex),
                "rollup": .number(proposal.output.rollup.rawValue), "index": .number(index),
                "l2Height": .number(proposal.output.l2Height), "outputRoot": .string(proposal.output.root.hex),
                "proposer": .string(proposal.proposer.hex), "signature": .string(proposal.signature.hex),
            ])
        case .challenge(let id, let rollup, let outputIndex, let kind, let challenger, let invalidated):
            return .object([
                "type": .string("challenge"), "id": .string(entry.id.hex), "challenge": .string(id.hex),
                "verdict": .string("won"), "rollup": .number(rollup.rawValue), "outputIndex": .number(outputIndex),
                "kind": .string(kind), "challenger": .string(challenger.hex),
                "invalidated": .number(invalidated),
            ])
        case .lostChallenge(let id, let rollup, let outputIndex, let kind, let challenger, let forfeited):
            return .object([
                "type": .string("challenge"), "id": .string(entry.id.hex), "challenge": .string(id.hex),
                "verdict": .string("lost"), "rollup": .number(rollup.rawValue), "outputIndex": .number(outputIndex),
                "kind": .string(kind), "challenger": .string(challenger.hex),
                "bondForfeited": .number(forfeited),
            ])
        }
    }

    public static func json(_ record: BlobRecord, data: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "rollup": .number(record.header.rollup.rawValue), "seq": .number(record.header.seq),
            "firstHeight": .number(record.header.firstHeight), "lastHeight": .number(record.header.lastHeight),
            "commitment": .string(record.commitment.hex), "signature": .string(record.signature.hex),
            "l1Height": .number(record.l1Height), "size": .number(record.frame.count),
        ]
        if data { o["data"] = .string("0x" + Hex.encode(record.frame)) }
        return .object(o)
    }

    /// An output record; its status and the blocks left in its window as of L1 height `height`
    /// (nil: not known, as in a stopped store read without its head).
    public static func json(_ r: OutputRecord, height: UInt64?) -> JSONValue {
        var o: [String: JSONValue] = [
            "index": .number(r.index), "rollup": .number(r.output.rollup.rawValue),
            "l2Height": .number(r.output.l2Height),
            "blockHash": .string(r.output.blockHash.hex), "stateRoot": .string(r.output.stateRoot.hex),
            "outboxRoot": .string(r.output.outboxRoot.hex), "outputRoot": .string(r.output.root.hex),
            "proposer": .string(r.proposer.hex), "signature": .string(r.signature.hex), "bond": .number(r.bond), "l1Height": .number(r.l1Height),
            "windowEndsAt": .number(r.windowEnd),
        ]
        if let height {
            let status = r.status(atL1Height: height)
            o["status"] = .string(status.rawValue)
            o["blocksLeft"] = .number(status == .pending ? r.windowEnd - height : 0)
        }
        if r.isInvalidated {
            o["invalidatedAt"] = .number(r.invalidatedAt)
            o["invalidatedBy"] = .string(r.invalidatedBy.hex)
        }
        return .object(o)
    }
}
