import Compression
import Primitives

/// Names a batch from outside its zstd frame (DESIGN §3): which rollup, its sequence number and
/// the heights of the blocks inside. Canonical encoding: `rollup (u32) ‖ seq (u64) ‖ first height
/// (u64) ‖ last height (u64)`.
public struct BatchHeader: Hashable, Sendable, CanonicalCodable {
    public var rollup: RollupID
    /// 0, 1, 2, … per rollup, without gaps.
    public var seq: UInt64
    public var firstHeight: UInt64
    public var lastHeight: UInt64

    public init(rollup: RollupID, seq: UInt64, firstHeight: UInt64, lastHeight: UInt64) {
        self.rollup = rollup
        self.seq = seq
        self.firstHeight = firstHeight
        self.lastHeight = lastHeight
    }

    /// How many blocks the batch holds. Never traps: a header built in process with heights out of order
    /// counts 0, and 0…2^64 − 1 (which no decoded header can name) saturates at 2^64 − 1.
    public var blockCount: UInt64 {
        guard lastHeight >= firstHeight else { return 0 }
        let (count, overflow) = (lastHeight - firstHeight).addingReportingOverflow(1)
        return overflow ? UInt64.max : count
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(seq)
        encoder.write(firstHeight)
        encoder.write(lastHeight)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        seq = try decoder.read(UInt64.self)
        firstHeight = try decoder.read(UInt64.self)
        lastHeight = try decoder.read(UInt64.self)
        guard firstHeight >= 1, lastHeight >= firstHeight else {
            throw .invalidValue("batch heights \(firstHeight)…\(lastHeight)")
        }
    }
}

/// Why a blob is not a valid batch.
public enum BatchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not one standard zstd frame (or one that claims too much).
    case notAFrame(String)
    /// The frame's content is not a canonical batch payload.
    case malformed(String)
    /// The payload's blocks are not exactly the header's.
    case mismatch(String)
    /// The header names more blocks than the frame's stated content size can hold.
    case tooManyBlocks(claimed: UInt64, contentSize: UInt64, limit: UInt64)

    public var description: String {
        switch self {
        case .notAFrame(let why): return "the blob is not a single zstd frame: \(why)"
        case .malformed(let why): return "the batch payload is malformed: \(why)"
        case .mismatch(let why): return "the batch does not match its header: \(why)"
        case .tooManyBlocks(let claimed, let contentSize, let limit):
            return
                "the header names \(claimed) blocks, but the frame states \(contentSize) bytes of content and every block takes at least \(Block.minimumEncodedBytes) bytes: at most \(limit) blocks fit"
        }
    }
}

/// The batch format: the blocks `firstHeight…lastHeight`, canonically encoded as
/// `version (u8 = 1) ‖ blocks (array of Block)`, compressed as ONE standard zstd frame with the
/// content size and checksum in its header, so `zstd -d` decodes any posted blob.
public enum BatchCodec {
    public static let version: UInt8 = 1
    /// The largest decompressed payload a decoder accepts.
    public static let maxPayloadBytes = 64 << 20

    /// The uncompressed payload of `blocks`.
    public static func payload(_ blocks: [Block]) -> [UInt8] {
        var encoder = CanonicalEncoder(reservingCapacity: 4096)
        encoder.write(version)
        encoder.write(blocks)
        return encoder.bytes
    }

    /// One zstd frame holding `blocks`.
    public static func encode(_ blocks: [Block], level: Int32) throws -> [UInt8] {
        try Zstd.compress(payload(blocks), level: level)
    }

    /// Checks the frame header only (cheap: what the L1 does before accepting a blob) and returns the
    /// content size it states.
    @discardableResult
    public static func checkFrame(_ frame: [UInt8]) throws(BatchError) -> UInt64 {
        let header: FrameHeader
        do { header = try Zstd.frameHeader(frame) } catch { throw .notAFrame("\(error)") }
        guard let size = header.contentSize else {
            throw .notAFrame("the frame header does not state the content size")
        }
        guard size <= UInt64(maxPayloadBytes) else {
            throw .notAFrame("the frame claims \(size) bytes of content, more than \(maxPayloadBytes)")
        }
        return size
    }

    /// The most blocks a frame stating `contentSize` bytes of content can hold: every encoded block
    /// takes at least `Block.minimumEncodedBytes`.
    public static func maxBlocks(contentSize: UInt64) -> UInt64 { contentSize / UInt64(Block.minimumEncodedBytes) }

    /// Checks the frame header and that `header`'s block count fits in the content size it states — the
    /// L1's consensus rule at `postBlob`, which keeps a signed header from claiming heights its bytes
    /// cannot hold (up to 2^64 − 1, the overflow of issue 13 finding 5). Cheap: no decompression.
    @discardableResult
    public static func check(_ frame: [UInt8], header: BatchHeader) throws(BatchError) -> UInt64 {
        let size = try checkFrame(frame)
        let limit = maxBlocks(contentSize: size)
        guard header.blockCount <= limit else {
            throw .tooManyBlocks(claimed: header.blockCount, contentSize: size, limit: limit)
        }
        return size
    }

    /// Decompresses and decodes a batch, checking that it holds exactly the header's blocks of the
    /// header's rollup, in height order.
    public static func decode(_ frame: [UInt8], header: BatchHeader) throws(BatchError) -> [Block] {
        try check(frame, header: header)
        let payload: [UInt8]
        do { payload = try Zstd.decompress(frame, maxOutputSize: maxPayloadBytes) } catch {
            throw .notAFrame("\(error)")
        }
        var decoder = CanonicalDecoder(payload)
        let blocks: [Block]
        do {
            let v = try decoder.read(UInt8.self)
            guard v == version else { throw CanonicalDecodingError.invalidValue("batch version \(v)") }
            blocks = try decoder.readArray(Block.self)
            try decoder.finish()
        } catch { throw .malformed("\(error)") }
        guard UInt64(blocks.count) == header.blockCount else {
            throw .mismatch("it holds \(blocks.count) blocks, the header names \(header.blockCount)")
        }
        for (i, block) in blocks.enumerated() {
            let expected = header.firstHeight + UInt64(i)
            guard block.header.height == expected, block.header.rollup == header.rollup else {
                throw .mismatch(
                    "block \(i) is rollup \(block.header.rollup) height \(block.header.height), expected rollup \(header.rollup) height \(expected)"
                )
            }
        }
        return blocks
    }
}
