import Primitives
import Settlement
import StateMachine
import Storage

// The L1 node's tables (docs/architecture.md has the map of every table):
//
//   l1_meta          name                        -> bytes         head height, genesis digest
//   l1_headers       height (u64)                -> L1BlockHeader
//   l1_bodies        height                      -> L1Body        the entries the block accepted
//   blobs            rollup ‖ seq                -> BlobRecord    the posted frame and where it landed
//   blob_heights     rollup ‖ last L2 height     -> seq           find the blob holding a height
//   outputs          rollup ‖ index              -> OutputRecord
//   output_windows   window end ‖ rollup ‖ index -> ()            outputs whose bond is still held
//   l1_rollups       rollup                      -> RollupL1State
//   balances         address                     -> u64           bond money
//   challenges       challenge id                -> ChallengeRecord  won challenges

public enum L1Meta: Table {
    public static let name = "l1_meta"
    public typealias Key = String
    public typealias Value = [UInt8]
    public static let head = "head"
    public static let genesis = "genesis"
    /// The layout of the records (u64): 2 since output records carry the proposer's signature, 3
    /// since they carry the parent the proposal was built on (and outputs are signed as
    /// `tributary/output/v2`). A store without it was written before layout 2.
    public static let layout = "layout"
    public static let currentLayout: UInt64 = 3
}

public enum L1Headers: Table {
    public static let name = "l1_headers"
    public typealias Key = UInt64
    public typealias Value = L1BlockHeader
}

public enum L1Bodies: Table {
    public static let name = "l1_bodies"
    public typealias Key = UInt64
    public typealias Value = L1Body
}

public enum Blobs: Table {
    public static let name = "blobs"
    public typealias Key = RollupIndexKey
    public typealias Value = BlobRecord
}

public enum BlobHeights: Table {
    public static let name = "blob_heights"
    public typealias Key = RollupIndexKey
    public typealias Value = UInt64
}

public enum Outputs: Table {
    public static let name = "outputs"
    public typealias Key = RollupIndexKey
    public typealias Value = OutputRecord
}

public enum OutputWindows: Table {
    public static let name = "output_windows"
    public typealias Key = WindowKey
    public typealias Value = [UInt8]
}

public enum L1Rollups: Table {
    public static let name = "l1_rollups"
    public typealias Key = RollupID
    public typealias Value = RollupL1State
}

public enum Balances: Table {
    public static let name = "balances"
    public typealias Key = Address
    public typealias Value = UInt64
}

public enum Challenges: Table {
    public static let name = "challenges"
    public typealias Key = Hash
    public typealias Value = ChallengeRecord
}

/// `rollup (u32) ‖ index (u64)`, big-endian: sorts by rollup, then index (the key the state
/// machine's L1 facts use too).
public typealias RollupIndexKey = RollupIndex

/// `window end (u64) ‖ rollup (u32) ‖ index (u64)`.
public struct WindowKey: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var windowEnd: UInt64
    public var rollup: RollupID
    public var index: UInt64

    public init(windowEnd: UInt64, rollup: RollupID, index: UInt64) {
        self.windowEnd = windowEnd
        self.rollup = rollup
        self.index = index
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(windowEnd)
        encoder.write(rollup)
        encoder.write(index)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        windowEnd = try decoder.read(UInt64.self)
        rollup = try decoder.read(RollupID.self)
        index = try decoder.read(UInt64.self)
    }
}

/// The entries of an L1 block.
public struct L1Body: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var entries: [L1Entry]

    public init(_ entries: [L1Entry]) { self.entries = entries }

    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(entries) }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        entries = try decoder.readArray(L1Entry.self)
    }
}

/// A posted blob: `header ‖ commitment ‖ signature ‖ L1 height ‖ frame`.
public struct BlobRecord: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var header: BatchHeader
    public var commitment: Hash
    public var signature: Signature
    /// The L1 block that accepted it.
    public var l1Height: UInt64
    /// The exact posted bytes: one zstd frame.
    public var frame: [UInt8]

    public init(header: BatchHeader, commitment: Hash, signature: Signature, l1Height: UInt64, frame: [UInt8]) {
        self.header = header
        self.commitment = commitment
        self.signature = signature
        self.l1Height = l1Height
        self.frame = frame
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(header)
        encoder.write(commitment)
        encoder.write(signature)
        encoder.write(l1Height)
        encoder.writeBytes(frame)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        header = try decoder.read(BatchHeader.self)
        commitment = try decoder.read(Hash.self)
        signature = try decoder.read(Signature.self)
        l1Height = try decoder.read(UInt64.self)
        frame = try decoder.readBytes()
    }
}

/// A proposed output and its fate. `invalidatedAt` is 0 while the output stands.
public struct OutputRecord: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var index: UInt64
    public var output: Output
    public var proposer: PublicKey
    public var bond: UInt64
    /// The L1 block that accepted it.
    public var l1Height: UInt64
    /// The first L1 height at which it is final (if not invalidated before).
    public var windowEnd: UInt64
    /// The L1 height of the won challenge that invalidated it (0: not invalidated).
    public var invalidatedAt: UInt64
    /// The id of that challenge (zero: none).
    public var invalidatedBy: Hash
    /// The proposer's signature over the output (`OutputProposal`'s), so the RPC can return it.
    public var signature: Signature
    /// The output root of the standing output it was proposed on (zero: none), as signed.
    public var parent: Hash

    public init(
        index: UInt64, output: Output, parent: Hash, proposer: PublicKey, signature: Signature, bond: UInt64,
        l1Height: UInt64, windowEnd: UInt64
    ) {
        self.index = index
        self.output = output
        self.parent = parent
        self.proposer = proposer
        self.signature = signature
        self.bond = bond
        self.l1Height = l1Height
        self.windowEnd = windowEnd
        invalidatedAt = 0
        invalidatedBy = .zero
    }

    public var isInvalidated: Bool { invalidatedAt != 0 }

    /// pending / finalized / invalidated at L1 height `height` — a pure function of the L1 chain.
    public func status(atL1Height height: UInt64) -> OutputStatus {
        if isInvalidated { return .invalidated }
        return height >= windowEnd ? .finalized : .pending
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(index)
        encoder.write(output)
        encoder.write(proposer)
        encoder.write(bond)
        encoder.write(l1Height)
        encoder.write(windowEnd)
        encoder.write(invalidatedAt)
        encoder.write(invalidatedBy)
        encoder.write(signature)
        encoder.write(parent)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        index = try decoder.read(UInt64.self)
        output = try decoder.read(Output.self)
        proposer = try decoder.read(PublicKey.self)
        bond = try decoder.read(UInt64.self)
        l1Height = try decoder.read(UInt64.self)
        windowEnd = try decoder.read(UInt64.self)
        invalidatedAt = try decoder.read(UInt64.self)
        invalidatedBy = try decoder.read(Hash.self)
        signature = try decoder.read(Signature.self)
        parent = try decoder.read(Hash.self)
    }
}

public enum OutputStatus: String, Sendable {
    case pending, finalized, invalidated
}

/// What the L1 tracks per rollup.
public struct RollupL1State: Hashable, Sendable, CanonicalCodable, StorageCodable {
    /// The next batch sequence number.
    public var nextSeq: UInt64 = 0
    /// The last L2 height a posted batch covers.
    public var daHeight: UInt64 = 0
    /// How many outputs were ever accepted.
    public var outputCount: UInt64 = 0
    /// The lowest L2 height at which the DA chain is proven broken (0: never).
    public var brokenAt: UInt64 = 0
    /// The L1 height of the registered proposer's newest accepted output (0: none yet).
    public var lastProposerL1Height: UInt64 = 0
    /// How many outputs won challenges invalidated.
    public var invalidatedCount: UInt64 = 0

    public init() {}

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(nextSeq)
        encoder.write(daHeight)
        encoder.write(outputCount)
        encoder.write(brokenAt)
        encoder.write(lastProposerL1Height)
        encoder.write(invalidatedCount)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        nextSeq = try decoder.read(UInt64.self)
        daHeight = try decoder.read(UInt64.self)
        outputCount = try decoder.read(UInt64.self)
        brokenAt = try decoder.read(UInt64.self)
        lastProposerL1Height = try decoder.read(UInt64.self)
        invalidatedCount = try decoder.read(UInt64.self)
    }
}

/// A won challenge.
public struct ChallengeRecord: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var rollup: RollupID
    public var outputIndex: UInt64
    public var kind: String
    public var challenger: PublicKey
    public var l1Height: UInt64
    public var reason: String
    /// Outputs invalidated (the challenged one and every later one).
    public var invalidated: UInt64
    /// Paid to the challenger (the challenged output's bond).
    public var payout: UInt64

    public init(
        rollup: RollupID, outputIndex: UInt64, kind: String, challenger: PublicKey, l1Height: UInt64, reason: String,
        invalidated: UInt64, payout: UInt64
    ) {
        self.rollup = rollup
        self.outputIndex = outputIndex
        self.kind = kind
        self.challenger = challenger
        self.l1Height = l1Height
        self.reason = reason
        self.invalidated = invalidated
        self.payout = payout
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(outputIndex)
        encoder.write(kind)
        encoder.write(challenger)
        encoder.write(l1Height)
        encoder.write(reason)
        encoder.write(invalidated)
        encoder.write(payout)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        outputIndex = try decoder.read(UInt64.self)
        kind = try decoder.read(String.self, maxLength: 16)
        challenger = try decoder.read(PublicKey.self)
        l1Height = try decoder.read(UInt64.self)
        reason = try decoder.read(String.self, maxLength: 4096)
        invalidated = try decoder.read(UInt64.self)
        payout = try decoder.read(UInt64.self)
    }
}

extension L1BlockHeader: StorageCodable {}

/// Every table of an L1 store: what `db` must be able to decode.
public enum L1StoreTables {
    public static let all: [any Table.Type] = [
        L1Meta.self, L1Headers.self, L1Bodies.self, Blobs.self, BlobHeights.self, Outputs.self, OutputWindows.self,
        L1Rollups.self, Balances.self, Challenges.self,
    ]
}
