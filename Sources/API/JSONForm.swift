import Config
import L1Chain
import Primitives
import Settlement
import StateMachine

/// The JSON form of the rollup's protocol values the RPC serves and the operator tools print:
/// written once, so `rollup_getBlock` and `db block` say the same thing in the same words
/// (docs/rpc.md). The L1's values carry their form in their API types (`L1Block`, `L1BlobInfo`,
/// `L1Output`), which `db block`, `db blobs` and `db outputs` of an L1 store print too.
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
}
