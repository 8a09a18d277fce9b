/// An asset's name: 1 to 32 characters from `A-Z a-z 0-9 / . _ -` (`ALPHA`, or `alpha/ALPHA` for a
/// wrapped asset). Encoded as a length-prefixed string.
public struct AssetName: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, CanonicalCodable {
    public let rawValue: String

    /// The longest name allowed, in bytes.
    public static let maxLength = 32

    public init?(rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == UInt8(ascii: "/") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: AssetName, rhs: AssetName) -> Bool { lhs.rawValue < rhs.rawValue }

    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(rawValue) }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        let name = try decoder.read(String.self, maxLength: Self.maxLength)
        guard Self.isValid(name) else {
            throw .invalidValue("asset name \"\(name)\" is not 1-32 of A-Z a-z 0-9 / . _ -")
        }
        rawValue = name
    }
}

/// What a transaction does. Encoded as a tag byte and the call's fields.
public enum Call: Hashable, Sendable, CanonicalCodable {
    /// Moves `amount` of `asset` from the sender to `to`. Tag 1.
    case transfer(to: Address, asset: AssetName, amount: UInt64)
    /// Sends a message to another rollup, taking `value` from the sender (escrowed when native,
    /// burned when wrapped). Tag 2: `destination ‖ target ‖ recipient ‖ value ‖ payload`.
    case sendMessage(destination: RollupID, target: String, recipient: Address, value: [AssetAmount], payload: [UInt8])
    /// Executes a message of another rollup, proven against that rollup's finalized output number
    /// `outputIndex`. Tag 3: `message ‖ proof ‖ output index`.
    case relayMessage(message: Message, proof: OutboxProof, outputIndex: UInt64)
    /// Releases an escrow lock to its beneficiary with the hash lock's preimage. Tag 4.
    case escrowClaim(id: Hash, preimage: [UInt8])
    /// Returns an expired escrow lock to its sender, by a message home. Tag 5.
    case escrowRefund(id: Hash)

    public func encode(to encoder: inout CanonicalEncoder) {
        switch self {
        case .transfer(let to, let asset, let amount):
            encoder.write(UInt8(1))
            encoder.write(to)
            encoder.write(asset)
            encoder.write(amount)
        case .sendMessage(let destination, let target, let recipient, let value, let payload):
            encoder.write(UInt8(2))
            encoder.write(destination)
            encoder.write(target)
            encoder.write(recipient)
            encoder.write(value)
            encoder.writeBytes(payload)
        case .relayMessage(let message, let proof, let outputIndex):
            encoder.write(UInt8(3))
            encoder.write(message)
            encoder.write(proof)
            encoder.write(outputIndex)
        case .escrowClaim(let id, let preimage):
            encoder.write(UInt8(4))
            encoder.write(id)
            encoder.writeBytes(preimage)
        case .escrowRefund(let id):
            encoder.write(UInt8(5))
            encoder.write(id)
        }
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        switch try decoder.read(UInt8.self) {
        case 1:
            self = .transfer(
                to: try decoder.read(Address.self), asset: try decoder.read(AssetName.self),
                amount: try decoder.read(UInt64.self))
        case 2:
            let destination = try decoder.read(RollupID.self)
            let target = try decoder.read(String.self, maxLength: Message.maxTargetLength)
            let recipient = try decoder.read(Address.self)
            let value = try Message.readValue(&decoder)
            self = .sendMessage(
                destination: destination, target: target, recipient: recipient, value: value,
                payload: try decoder.readBytes(maxLength: Message.maxPayload))
        case 3:
            self = .relayMessage(
                message: try decoder.read(Message.self), proof: try decoder.read(OutboxProof.self),
                outputIndex: try decoder.read(UInt64.self))
        case 4:
            self = .escrowClaim(id: try decoder.read(Hash.self), preimage: try decoder.readBytes(maxLength: 64))
        case 5:
            self = .escrowRefund(id: try decoder.read(Hash.self))
        case let tag:
            throw .invalidValue("unknown call tag \(tag)")
        }
    }
}

/// A rollup transaction: `{rollup id, nonce, sender public key, fee, call}` (DESIGN §3). The rollup
/// id is part of the signed bytes, so a transaction signed for one rollup is invalid on every other.
public struct Transaction: Hashable, Sendable, CanonicalCodable {
    public var rollup: RollupID
    public var nonce: UInt64
    public var sender: PublicKey
    /// Paid in the rollup's native asset to the sequencer, even when the call fails.
    public var fee: UInt64
    public var call: Call

    public init(rollup: RollupID, nonce: UInt64, sender: PublicKey, fee: UInt64, call: Call) {
        self.rollup = rollup
        self.nonce = nonce
        self.sender = sender
        self.fee = fee
        self.call = call
    }

    /// The domain prefix of the signed bytes.
    public static let signingDomain = Array("tributary/tx/v1".utf8)

    /// The bytes the sender signs: the domain prefix, then the canonical encoding.
    public var signingBytes: [UInt8] { Self.signingDomain + canonicalBytes }

    /// The transaction's id: SHA-256 of its signing bytes (the signature is not part of it).
    public var id: Hash { Hash.sha256(signingBytes) }

    /// The sender's address.
    public var senderAddress: Address { sender.address }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(nonce)
        encoder.write(sender)
        encoder.write(fee)
        encoder.write(call)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        nonce = try decoder.read(UInt64.self)
        sender = try decoder.read(PublicKey.self)
        fee = try decoder.read(UInt64.self)
        call = try decoder.read(Call.self)
    }

    /// Signs the transaction with `key` (which must be the sender's).
    /// The size of this transaction once signed: its encoding and the 64-byte signature (the fee is
    /// fixed-width, so the size does not depend on it). What the mempool's per-byte price applies to.
    public var signedEncodedSize: Int { canonicalBytes.count + Signature.byteCount }

    /// A copy whose fee is the least that pays `perByte` for each byte of the signed transaction.
    public func payingMinimumFee(perByte: UInt64) -> Transaction {
        var copy = self
        let (fee, overflow) = perByte.multipliedReportingOverflow(by: UInt64(signedEncodedSize))
        copy.fee = overflow ? UInt64.max : fee
        return copy
    }

    public func signed(by key: SigningKey) -> SignedTransaction {
        precondition(key.publicKey == sender, "a transaction must be signed by its sender")
        return SignedTransaction(transaction: self, signature: key.sign(signingBytes))
    }
}

/// A transaction with its sender's Ed25519 signature.
public struct SignedTransaction: Hashable, Sendable, CanonicalCodable {
    public var transaction: Transaction
    public var signature: Signature

    public init(transaction: Transaction, signature: Signature) {
        self.transaction = transaction
        self.signature = signature
    }

    /// The transaction's id (independent of the signature).
    public var id: Hash { transaction.id }

    /// Whether the signature is the sender's over the signing bytes.
    public var hasValidSignature: Bool {
        transaction.sender.isValidSignature(signature, for: transaction.signingBytes)
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(transaction)
        encoder.write(signature)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        transaction = try decoder.read(Transaction.self)
        signature = try decoder.read(Signature.self)
    }
}
