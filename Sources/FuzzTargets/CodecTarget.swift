import Chain
import Primitives
import Settlement
import StateMachine

/// The canonical codec target. The first byte picks a consensus type, the rest is decoded as one
/// value of it with the product's decoder (`init(canonicalBytes:)`). Every decoded value must
/// satisfy `canonicalValue`'s promises; hashes, ids and signature checks are computed on it and
/// must answer without trapping, and a valid signature must stop verifying when the signed
/// content changes. Every decoded value must also keep the decoding rules docs/protocol.md states
/// (`checkRules`): a decoder that let one through would accept what the specification refuses.
/// Returns whether the input decoded.
@discardableResult
public func fuzzCodec(_ input: [UInt8]) -> Bool {
    guard let selector = input.first else { return false }
    let bytes = Array(input.dropFirst())
    switch selector % 19 {
    case 0:
        guard let tx = canonicalValue(Transaction.self, bytes, input: input) else { return false }
        checkRules(tx.call, input: input)
        fuzzCheck(
            tx.id == Hash.sha256(tx.signingBytes), "transaction id is not the hash of its signing bytes", input: input)
    case 1:
        guard let signed = canonicalValue(SignedTransaction.self, bytes, input: input) else { return false }
        checkRules(signed.transaction.call, input: input)
        if signed.hasValidSignature {
            var changed = signed
            changed.transaction.fee &+= 1
            fuzzCheck(!changed.hasValidSignature, "a signature still verifies after the fee changed", input: input)
        }
    case 2:
        guard let block = canonicalValue(Block.self, bytes, input: input) else { return false }
        _ = MerkleList.root(block.transactions.map(\.id))
        _ = block.header.hash
        _ = block.transactions.map(\.hasValidSignature)
        for tx in block.transactions { checkRules(tx.transaction.call, input: input) }
    case 3:
        guard let header = canonicalValue(BlockHeader.self, bytes, input: input) else { return false }
        fuzzCheck(Output(header: header).matches(header), "an output does not match its own header", input: input)
    case 4:
        guard let message = canonicalValue(Message.self, bytes, input: input) else { return false }
        checkRules(message, input: input)
        _ = message.id
    case 5:
        guard let frontier = canonicalValue(OutboxFrontier.self, bytes, input: input) else { return false }
        fuzzCheck(
            frontier.peaks.count == frontier.count.nonzeroBitCount, "an outbox frontier with the wrong peaks",
            input: input)
        _ = frontier.root
    case 6:
        guard let call = canonicalValue(Call.self, bytes, input: input) else { return false }
        checkRules(call, input: input)
    case 7:
        guard let name = canonicalValue(AssetName.self, bytes, input: input) else { return false }
        checkAssetName(name, input: input)
    case 8: return canonicalValue(Receipt.self, bytes, input: input) != nil
    case 9:
        guard let header = canonicalValue(BatchHeader.self, bytes, input: input) else { return false }
        fuzzCheck(header.blockCount >= 1, "a batch header with no blocks", input: input)
    case 10:
        guard let output = canonicalValue(Output.self, bytes, input: input) else { return false }
        _ = output.root
    case 11:
        guard let proposal = canonicalValue(OutputProposal.self, bytes, input: input) else { return false }
        if proposal.hasValidSignature {
            var changed = proposal
            changed.output.l2Height &+= 1
            fuzzCheck(
                !changed.hasValidSignature, "an output signature still verifies after the height changed", input: input)
        }
    case 12:
        guard let post = canonicalValue(BlobPost.self, bytes, input: input) else { return false }
        _ = post.isSigned(by: devBatcher)
    case 13:
        guard let entry = canonicalValue(L1Entry.self, bytes, input: input) else { return false }
        _ = entry.id
    case 14:
        guard let header = canonicalValue(L1BlockHeader.self, bytes, input: input) else { return false }
        _ = header.hash
    case 15:
        guard let body = canonicalValue(BlockBody.self, bytes, input: input) else { return false }
        for tx in body.transactions { checkRules(tx.transaction.call, input: input) }
    case 16: return canonicalValue(BlockReceipts.self, bytes, input: input) != nil
    case 17: return canonicalValue(TransactionLocation.self, bytes, input: input) != nil
    default:
        guard let lock = canonicalValue(EscrowLock.self, bytes, input: input) else { return false }
        checkValueRule(lock.value, input: input)
    }
    return true
}

/// The decoding rules of docs/protocol.md, checked on a decoded call: asset names of 1–32 bytes of
/// `A-Z a-z 0-9 / . _ -`, targets of at most 32 bytes, payloads of at most 1,024, preimages of at
/// most 64, outbox paths of at most 64 hashes, and every value list by the message value rule.
func checkRules(_ call: Call, input: [UInt8]) {
    switch call {
    case .transfer(_, let asset, _): checkAssetName(asset, input: input)
    case .sendMessage(_, let target, _, let value, let payload):
        fuzzCheck(target.utf8.count <= Message.maxTargetLength, "a target of \(target.utf8.count) bytes", input: input)
        fuzzCheck(payload.count <= Message.maxPayload, "a payload of \(payload.count) bytes", input: input)
        checkValueRule(value, input: input)
    case .relayMessage(let message, let proof, _):
        checkRules(message, input: input)
        fuzzCheck(proof.path.count <= OutboxProof.maxPath, "an outbox path of \(proof.path.count)", input: input)
    case .escrowClaim(_, let preimage):
        fuzzCheck(preimage.count <= 64, "a preimage of \(preimage.count) bytes", input: input)
    case .escrowRefund: break
    }
}

func checkRules(_ message: Message, input: [UInt8]) {
    fuzzCheck(
        message.target.utf8.count <= Message.maxTargetLength, "a message target of \(message.target.utf8.count) bytes",
        input: input)
    fuzzCheck(message.payload.count <= Message.maxPayload, "a message payload of \(message.payload.count)", input: input)
    checkValueRule(message.value, input: input)
}

/// At most four entries, amounts above zero, assets strictly increasing, every name valid.
func checkValueRule(_ value: [AssetAmount], input: [UInt8]) {
    fuzzCheck(value.count <= Message.maxAssets, "a value of \(value.count) assets", input: input)
    for (i, entry) in value.enumerated() {
        checkAssetName(entry.asset, input: input)
        fuzzCheck(entry.amount > 0, "a zero amount in a value", input: input)
        if i > 0 { fuzzCheck(value[i - 1].asset < entry.asset, "a value not strictly ordered by asset", input: input) }
    }
}

func checkAssetName(_ name: AssetName, input: [UInt8]) {
    let bytes = Array(name.rawValue.utf8)
    let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-".utf8)
    fuzzCheck(
        (1...AssetName.maxLength).contains(bytes.count) && bytes.allSatisfy(alphabet.contains),
        "asset name \"\(name.rawValue)\" breaks the asset alphabet", input: input)
}

/// A real batcher key to check blob signatures against.
private let devBatcher = DevKeys.key(named: "alpha/batcher").publicKey
