import Config
import L1Chain
import Primitives
import Settlement
import RPC
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

// MARK: Reading the forms back

/// The readers of `JSONForm`'s forms, each the inverse of its writer above, checking what the form
/// repeats (a header's hash, a transaction's or a message's id).
extension JSONForm {
    public static func header(_ json: JSONValue) throws -> BlockHeader {
        let f = try JSONFields(json, "block header")
        let origin = try JSONFields(json["l1Origin"] ?? .null, "block header l1Origin")
        let header = BlockHeader(
            rollup: try f.rollup("rollup"), height: try f.unsigned("height"), parent: try f.hex("parent"),
            l1Origin: L1Origin(height: try origin.unsigned("height"), hash: try origin.hex("hash")),
            timestamp: try f.unsigned("timestamp"), transactionsRoot: try f.hex("transactionsRoot"),
            stateRoot: try f.hex("stateRoot"), outboxRoot: try f.hex("outboxRoot"),
            receiptsRoot: try f.hex("receiptsRoot"))
        guard try f.hex("hash", as: Hash.self) == header.hash else {
            throw RPCClient.TransportError.malformedResponse("block header \(header.height): its hash is not its fields'")
        }
        return header
    }

    public static func value(_ json: JSONValue, _ what: String) throws -> [AssetAmount] {
        guard case .array(let items) = json else {
            throw RPCClient.TransportError.malformedResponse("\(what): value is not an array")
        }
        return try items.map { item in
            let f = try JSONFields(item, "\(what) value")
            guard let asset = AssetName(rawValue: try f.string("asset")) else { throw f.malformed("asset") }
            return AssetAmount(asset, try f.unsigned("amount"))
        }
    }

    public static func message(_ json: JSONValue) throws -> Message {
        let f = try JSONFields(json, "message")
        let m = Message(
            source: try f.rollup("source"), nonce: try f.unsigned("nonce"), sender: try f.hex("sender"),
            destination: try f.rollup("destination"), target: try f.string("target"), recipient: try f.hex("recipient"),
            value: try value(json["value"] ?? .null, "message"), payload: try f.bytes("payload"))
        guard try f.hex("id", as: Hash.self) == m.id else { throw f.malformed("id") }
        return m
    }

    public static func transaction(_ json: JSONValue) throws -> SignedTransaction {
        let f = try JSONFields(json, "transaction")
        let c = try JSONFields(json["call"] ?? .null, "transaction call")
        let call: Call
        switch try c.string("type") {
        case "transfer":
            guard let asset = AssetName(rawValue: try c.string("asset")) else { throw c.malformed("asset") }
            call = .transfer(to: try c.hex("to"), asset: asset, amount: try c.unsigned("amount"))
        case "sendMessage":
            call = .sendMessage(
                destination: try c.rollup("destination"), target: try c.string("target"),
                recipient: try c.hex("recipient"), value: try value(json["call"]?["value"] ?? .null, "sendMessage"),
                payload: try c.bytes("payload"))
        case "relayMessage":
            let p = try JSONFields(json["call"]?["proof"] ?? .null, "relayMessage proof")
            let path = try p.array("path").map { item -> Hash in
                guard let text = item.stringValue, let hash = try? Hash(hex: text) else { throw p.malformed("path") }
                return hash
            }
            call = .relayMessage(
                message: try message(json["call"]?["message"] ?? .null),
                proof: OutboxProof(index: try p.unsigned("index"), treeSize: try p.unsigned("treeSize"), path: path),
                outputIndex: try c.unsigned("outputIndex"))
        case "escrowClaim": call = .escrowClaim(id: try c.hex("lock"), preimage: try c.bytes("preimage"))
        case "escrowRefund": call = .escrowRefund(id: try c.hex("lock"))
        default: throw c.malformed("type")
        }
        let tx = SignedTransaction(
            transaction: Transaction(
                rollup: try f.rollup("rollup"), nonce: try f.unsigned("nonce"), sender: try f.hex("sender"),
                fee: try f.unsigned("fee"), call: call),
            signature: try f.hex("signature"))
        guard try f.hex("id", as: Hash.self) == tx.id else { throw f.malformed("id") }
        return tx
    }
}
