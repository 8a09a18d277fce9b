import Primitives
import Settlement
import Storage

// Tables a rollup node keeps about the L1 (docs/architecture.md):
//
//   batches   seq (u64)     -> PostedBatch   every batch of this rollup: header, exact frame, L1 height
//   claims    height (u64)  -> Block         posted blocks whose header differs from re-execution

/// Seq -> a batch of this rollup: written before it is posted (so a retry re-posts the same bytes),
/// then marked with the L1 height that accepted it; a follower records the batches it derived from.
public enum Batches: Table {
    public static let name = "batches"
    public typealias Key = UInt64
    public typealias Value = PostedBatch
}

/// Height -> the posted block at that height, kept only when its header's claims differ from the
/// node's own execution: what a challenge is built from.
public enum Claims: Table {
    public static let name = "claims"
    public typealias Key = UInt64
    public typealias Value = Block
}

/// A batch: `header ‖ L1 height (0: not yet accepted) ‖ frame`.
public struct PostedBatch: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var header: BatchHeader
    public var l1Height: UInt64
    public var frame: [UInt8]

    public init(header: BatchHeader, l1Height: UInt64, frame: [UInt8]) {
        self.header = header
        self.l1Height = l1Height
        self.frame = frame
    }

    public var commitment: Hash { Hash.sha256(frame) }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(header)
        encoder.write(l1Height)
        encoder.writeBytes(frame)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        header = try decoder.read(BatchHeader.self)
        l1Height = try decoder.read(UInt64.self)
        frame = try decoder.readBytes()
    }
}

extension Block: StorageCodable {}
