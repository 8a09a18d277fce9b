import Primitives
import StateTree

/// A claim about a rollup's canonical chain at one height (DESIGN §3). Its root is SHA-256 of the
/// canonical encoding: `rollup (u32) ‖ l2 height (u64) ‖ block hash ‖ state root ‖ outbox root`.
public struct Output: Hashable, Sendable, CanonicalCodable {
    public var rollup: RollupID
    public var l2Height: UInt64
    public var blockHash: Hash
    public var stateRoot: Hash
    public var outboxRoot: Hash

    public init(rollup: RollupID, l2Height: UInt64, blockHash: Hash, stateRoot: Hash, outboxRoot: Hash) {
        self.rollup = rollup
        self.l2Height = l2Height
        self.blockHash = blockHash
        self.stateRoot = stateRoot
        self.outboxRoot = outboxRoot
    }

    /// The output of a block header.
    public init(header: BlockHeader) {
        self.init(
            rollup: header.rollup, l2Height: header.height, blockHash: header.hash, stateRoot: header.stateRoot,
            outboxRoot: header.outboxRoot)
    }

    public var root: Hash { Hash.sha256(canonicalBytes) }

    /// Whether the output claims exactly what `header` says.
    public func matches(_ header: BlockHeader) -> Bool { self == Output(header: header) }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(l2Height)
        encoder.write(blockHash)
        encoder.write(stateRoot)
        encoder.write(outboxRoot)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        l2Height = try decoder.read(UInt64.self)
        blockHash = try decoder.read(Hash.self)
        stateRoot = try decoder.read(Hash.self)
        outboxRoot = try decoder.read(Hash.self)
    }
}

/// Signing: every L1 transaction is signed over `domain ‖ 0x00 ‖ body`, where the domain names the
/// transaction kind, so a signature for one kind is never valid for another.
enum L1Signing {
    static func message(_ domain: String, _ body: [UInt8]) -> [UInt8] { Array(domain.utf8) + [0] + body }
}

/// `postBlob(batch header, bytes, signature)`: the signature is the rollup's batcher key over
/// `"tributary/blob/v1" ‖ 0x00 ‖ header ‖ SHA-256(frame)`. Canonical encoding: `header ‖ frame
/// (length-prefixed) ‖ signature`.
public struct BlobPost: Hashable, Sendable, CanonicalCodable {
    public static let domain = "tributary/blob/v1"
    public var header: BatchHeader
    public var frame: [UInt8]
    public var signature: Signature

    public init(header: BatchHeader, frame: [UInt8], signature: Signature) {
        self.header = header
        self.frame = frame
        self.signature = signature
    }

    /// Signs `frame` under `header` with the batcher's key.
    public init(header: BatchHeader, frame: [UInt8], signedBy key: SigningKey) {
        self.init(
            header: header, frame: frame,
            signature: key.sign(Self.signingMessage(header, commitment: Hash.sha256(frame))))
    }

    /// The DA commitment: SHA-256 of the frame.
    public var commitment: Hash { Hash.sha256(frame) }

    public static func signingMessage(_ header: BatchHeader, commitment: Hash) -> [UInt8] {
        L1Signing.message(domain, header.canonicalBytes + commitment.bytes)
    }

    public func isSigned(by key: PublicKey) -> Bool {
        key.isValidSignature(signature, for: Self.signingMessage(header, commitment: commitment))
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(header)
        encoder.writeBytes(frame)
        encoder.write(signature)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        header = try decoder.read(BatchHeader.self)
        frame = try decoder.readBytes()
        signature = try decoder.read(Signature.self)
    }
}

/// `proposeOutput(output, parent, signature)`: signed by `proposer` over `"tributary/output/v2" ‖
/// 0x00 ‖ output ‖ parent ‖ proposer`. Canonical encoding: `output ‖ parent ‖ proposer ‖ signature`.
/// `parent` is the output root of the newest standing output of the rollup the proposal builds on
/// (zero: none): the L1 refuses the proposal when another output was accepted above that one in
/// the meantime, so a proposal never lands, unseen, above an output its proposer did not check.
public struct OutputProposal: Hashable, Sendable, CanonicalCodable {
    public static let domain = "tributary/output/v2"
    public var output: Output
    public var parent: Hash
    public var proposer: PublicKey
    public var signature: Signature

    public init(output: Output, parent: Hash, signedBy key: SigningKey) {
        self.output = output
        self.parent = parent
        self.proposer = key.publicKey
        self.signature = key.sign(Self.signingMessage(output, parent: parent, proposer: key.publicKey))
    }

    public init(output: Output, parent: Hash, proposer: PublicKey, signature: Signature) {
        self.output = output
        self.parent = parent
        self.proposer = proposer
        self.signature = signature
    }

    public static func signingMessage(_ output: Output, parent: Hash, proposer: PublicKey) -> [UInt8] {
        L1Signing.message(domain, output.canonicalBytes + parent.bytes + proposer.bytes)
    }

    public var hasValidSignature: Bool {
        proposer.isValidSignature(signature, for: Self.signingMessage(output, parent: parent, proposer: proposer))
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(output)
        encoder.write(parent)
        encoder.write(proposer)
        encoder.write(signature)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        output = try decoder.read(Output.self)
        parent = try decoder.read(Hash.self)
        proposer = try decoder.read(PublicKey.self)
        signature = try decoder.read(Signature.self)
    }
}

/// What a challenge proves (docs/protocol.md, "Disputes").
public enum FraudProof: Hashable, Sendable, CanonicalCodable {
    /// DA block `height` is not what the block rule makes of DA block `height - 1` and its own
    /// transactions: the header the rule gives differs from the posted one. The witness covers every
    /// key the block reads or writes, against block `height - 1`'s claimed state root. Tag 0.
    case block(height: UInt64, witness: Witness)
    /// The output names the DA header at its height but other roots, or — proposed by the rollup's
    /// own proposer while the DA chain is not proven broken at or below it — disagrees with the DA
    /// header at its height. Tag 1.
    case output
    /// Some block of the output's range is not in DA (missing, or a blob that does not decode to
    /// its header's blocks). Tag 2.
    case notInDA
    /// Re-executing the DA blocks from the anchor (the latest finalized output before the challenged
    /// one, or genesis) up to the output's height by the block rule does not give the output.
    /// `anchor` is the anchor's block header (it must hash to the anchor's block hash: the rule
    /// floors the first block's L1 origin and timestamp at it); the witness covers every key those
    /// blocks read or write, against the anchor's state root. Tag 3.
    case span(anchor: BlockHeader, witness: Witness)

    public var kind: String {
        switch self {
        case .block: return "block"
        case .output: return "output"
        case .notInDA: return "notInDA"
        case .span: return "span"
        }
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        switch self {
        case .block(let height, let witness):
            encoder.write(UInt8(0))
            encoder.write(height)
            encoder.write(witness)
        case .output: encoder.write(UInt8(1))
        case .notInDA: encoder.write(UInt8(2))
        case .span(let anchor, let witness):
            encoder.write(UInt8(3))
            encoder.write(anchor)
            encoder.write(witness)
        }
    }

    /// The most witness nodes a fraud proof may carry (`Witness.maxNodes`, from the L1's body-size
    /// limit): counted while decoding, so a body of one-byte nodes fails before it fills the heap.
    public static let maxWitnessNodes = Witness.maxNodes

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        switch try decoder.read(UInt8.self) {
        case 0:
            let height = try decoder.read(UInt64.self)
            self = .block(height: height, witness: try Witness(from: &decoder, maxNodes: Self.maxWitnessNodes))
        case 1: self = .output
        case 2: self = .notInDA
        case 3:
            let anchor = try decoder.read(BlockHeader.self)
            self = .span(anchor: anchor, witness: try Witness(from: &decoder, maxNodes: Self.maxWitnessNodes))
        case let tag: throw .invalidValue("fraud proof kind \(tag)")
        }
    }
}

/// `challenge(output index, fraud proof)`: signed by the challenger (who is paid the bond when it
/// wins) over `"tributary/challenge/v1" ‖ 0x00 ‖ rollup ‖ output index ‖ proof ‖ challenger`.
public struct Challenge: Hashable, Sendable, CanonicalCodable {
    public static let domain = "tributary/challenge/v1"
    public var rollup: RollupID
    public var outputIndex: UInt64
    public var proof: FraudProof
    public var challenger: PublicKey
    public var signature: Signature

    public init(rollup: RollupID, outputIndex: UInt64, proof: FraudProof, signedBy key: SigningKey) {
        self.rollup = rollup
        self.outputIndex = outputIndex
        self.proof = proof
        self.challenger = key.publicKey
        self.signature = key.sign(
            Self.signingMessage(rollup: rollup, outputIndex: outputIndex, proof: proof, challenger: key.publicKey))
    }

    static func signingMessage(rollup: RollupID, outputIndex: UInt64, proof: FraudProof, challenger: PublicKey)
        -> [UInt8]
    {
        var e = CanonicalEncoder()
        e.write(rollup)
        e.write(outputIndex)
        e.write(proof)
        e.write(challenger)
        return L1Signing.message(domain, e.bytes)
    }

    public var hasValidSignature: Bool {
        challenger.isValidSignature(
            signature,
            for: Self.signingMessage(rollup: rollup, outputIndex: outputIndex, proof: proof, challenger: challenger))
    }

    /// The challenge's id: SHA-256 of its encoding.
    public var id: Hash { Hash.sha256(canonicalBytes) }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(outputIndex)
        encoder.write(proof)
        encoder.write(challenger)
        encoder.write(signature)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        outputIndex = try decoder.read(UInt64.self)
        proof = try decoder.read(FraudProof.self)
        challenger = try decoder.read(PublicKey.self)
        signature = try decoder.read(Signature.self)
    }
}

/// What an L1 block lists for each transaction that changed its state. Blob bytes live in the blob
/// table; the block keeps the header, the commitment and the signature, enough to check the
/// batcher's signature again. Tags: 0 blob, 1 output, 2 won challenge, 3 lost challenge (its bond
/// was burned).
public enum L1Entry: Hashable, Sendable, CanonicalCodable {
    case blob(header: BatchHeader, commitment: Hash, size: UInt64, signature: Signature)
    case output(index: UInt64, proposal: OutputProposal)
    case challenge(
        id: Hash, rollup: RollupID, outputIndex: UInt64, kind: String, challenger: PublicKey, invalidated: UInt64)
    /// A challenge the L1 adjudicated and rejected: the challenger forfeited `bondForfeited`.
    case lostChallenge(
        id: Hash, rollup: RollupID, outputIndex: UInt64, kind: String, challenger: PublicKey, bondForfeited: UInt64)

    /// Whether the entry is a challenge the L1 adjudicated (won or lost): what the per-block cap counts.
    public var isAdjudicatedChallenge: Bool {
        switch self {
        case .challenge, .lostChallenge: return true
        case .blob, .output: return false
        }
    }

    /// The entry's id: SHA-256 of its encoding.
    public var id: Hash { Hash.sha256(canonicalBytes) }

    public func encode(to encoder: inout CanonicalEncoder) {
        switch self {
        case .blob(let header, let commitment, let size, let signature):
            encoder.write(UInt8(0))
            encoder.write(header)
            encoder.write(commitment)
            encoder.write(size)
            encoder.write(signature)
        case .output(let index, let proposal):
            encoder.write(UInt8(1))
            encoder.write(index)
            encoder.write(proposal)
        case .challenge(let id, let rollup, let outputIndex, let kind, let challenger, let invalidated):
            encoder.write(UInt8(2))
            encoder.write(id)
            encoder.write(rollup)
            encoder.write(outputIndex)
            encoder.write(kind)
            encoder.write(challenger)
            encoder.write(invalidated)
        case .lostChallenge(let id, let rollup, let outputIndex, let kind, let challenger, let forfeited):
            encoder.write(UInt8(3))
            encoder.write(id)
            encoder.write(rollup)
            encoder.write(outputIndex)
            encoder.write(kind)
            encoder.write(challenger)
            encoder.write(forfeited)
        }
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        switch try decoder.read(UInt8.self) {
        case 0:
            self = .blob(
                header: try decoder.read(BatchHeader.self), commitment: try decoder.read(Hash.self),
                size: try decoder.read(UInt64.self), signature: try decoder.read(Signature.self))
        case 1: self = .output(index: try decoder.read(UInt64.self), proposal: try decoder.read(OutputProposal.self))
        case 2:
            self = .challenge(
                id: try decoder.read(Hash.self), rollup: try decoder.read(RollupID.self),
                outputIndex: try decoder.read(UInt64.self), kind: try decoder.read(String.self, maxLength: 16),
                challenger: try decoder.read(PublicKey.self), invalidated: try decoder.read(UInt64.self))
        case 3:
            self = .lostChallenge(
                id: try decoder.read(Hash.self), rollup: try decoder.read(RollupID.self),
                outputIndex: try decoder.read(UInt64.self), kind: try decoder.read(String.self, maxLength: 16),
                challenger: try decoder.read(PublicKey.self), bondForfeited: try decoder.read(UInt64.self))
        case let tag: throw .invalidValue("L1 entry kind \(tag)")
        }
    }
}

/// An L1 block header. Hash: SHA-256 of `height ‖ parent ‖ timestamp ‖ entries root`.
public struct L1BlockHeader: Hashable, Sendable, CanonicalCodable {
    public var height: UInt64
    public var parent: Hash
    /// Milliseconds since the Unix epoch (the L1's clock; never read by a rollup's state machine).
    public var timestamp: UInt64
    /// `MerkleList.root` of the entries' ids.
    public var entriesRoot: Hash

    public init(height: UInt64, parent: Hash, timestamp: UInt64, entriesRoot: Hash) {
        self.height = height
        self.parent = parent
        self.timestamp = timestamp
        self.entriesRoot = entriesRoot
    }

    public var hash: Hash { Hash.sha256(canonicalBytes) }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(height)
        encoder.write(parent)
        encoder.write(timestamp)
        encoder.write(entriesRoot)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        height = try decoder.read(UInt64.self)
        parent = try decoder.read(Hash.self)
        timestamp = try decoder.read(UInt64.self)
        entriesRoot = try decoder.read(Hash.self)
    }
}
