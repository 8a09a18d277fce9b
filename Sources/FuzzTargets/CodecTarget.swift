import Chain
import Primitives
import Settlement
import StateMachine

/// The canonical codec target. The first byte picks a consensus type, the rest is decoded as one
/// value of it with the product's decoder (`init(canonicalBytes:)`). Every decoded value must
/// satisfy `canonicalValue`'s promises; hashes, ids and signature checks are computed on it and
/// must answer without trapping, and a valid signature must stop verifying when the signed
/// content changes. Returns whether the input decoded.
@discardableResult
public func fuzzCodec(_ input: [UInt8]) -> Bool {
    guard let selector = input.first else { return false }
    let bytes = Array(input.dropFirst())
    switch selector % 19 {
    case 0:
        guard let tx = canonicalValue(Transaction.self, bytes, input: input) else { return false }
        fuzzCheck(
            tx.id == Hash.sha256(tx.signingBytes), "transaction id is not the hash of its signing bytes", input: input)
    case 1:
        guard let signed = canonicalValue(SignedTransaction.self, bytes, input: input) else { return false }
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
    case 3:
        guard let header = canonicalValue(BlockHeader.self, bytes, input: input) else { return false }
        fuzzCheck(Output(header: header).matches(header), "an output does not match its own header", input: input)
    case 4:
        guard let message = canonicalValue(Message.self, bytes, input: input) else { return false }
        fuzzCheck(
            message.value.count <= Message.maxAssets, "a message with \(message.value.count) assets", input: input)
        _ = message.id
    case 5:
        guard let frontier = canonicalValue(OutboxFrontier.self, bytes, input: input) else { return false }
        fuzzCheck(
            frontier.peaks.count == frontier.count.nonzeroBitCount, "an outbox frontier with the wrong peaks",
            input: input)
        _ = frontier.root
    case 6: return canonicalValue(Call.self, bytes, input: input) != nil
    case 7:
        guard let name = canonicalValue(AssetName.self, bytes, input: input) else { return false }
        fuzzCheck(AssetName(rawValue: name.rawValue) == name, "a decoded asset name is not valid", input: input)
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
    case 15: return canonicalValue(BlockBody.self, bytes, input: input) != nil
    case 16: return canonicalValue(BlockReceipts.self, bytes, input: input) != nil
    case 17: return canonicalValue(TransactionLocation.self, bytes, input: input) != nil
    default:
        return fuzzVarint(bytes, input: input)
    }
    return true
}

/// A varint decodes only from its shortest form: re-encoding gives the bytes that were read.
private func fuzzVarint(_ bytes: [UInt8], input: [UInt8]) -> Bool {
    var decoder = CanonicalDecoder(bytes)
    guard let value = try? decoder.readVarint() else { return false }
    var encoder = CanonicalEncoder()
    encoder.writeVarint(value)
    fuzzCheck(
        encoder.bytes == Array(bytes.prefix(decoder.offset)), "varint \(value) decodes from a non-shortest form",
        input: input)
    return true
}

/// A real batcher key to check blob signatures against.
private let devBatcher = DevKeys.key(named: "alpha/batcher").publicKey
