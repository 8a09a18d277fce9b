import Compression
import Primitives
import Settlement

/// The batch target: `mode (u8) ‖ BatchHeader ‖ rest`. With an even mode the rest is the blob's
/// frame as posted; with an odd mode it is a batch payload, compressed into a frame here first so
/// mutations reach the payload decoder past zstd's checksum. The frame goes through
/// `BatchCodec.decode`, the decoder derivation and disputes use.
///
/// When a batch decodes: its blocks are exactly the header's, the payload is the canonical payload
/// of those blocks, the decompression cap holds at exactly the payload size and refuses one byte
/// less, and the blocks survive a round trip through `BatchCodec.encode`. Returns whether the
/// input decoded to a batch.
@discardableResult
public func fuzzBatch(_ input: [UInt8]) -> Bool {
    guard let mode = input.first else { return false }
    var decoder = CanonicalDecoder(Array(input.dropFirst()))
    guard let header = try? decoder.read(BatchHeader.self) else { return false }
    let rest = Array(input.dropFirst(1 + decoder.offset))
    let frame: [UInt8]
    if mode & 1 == 0 {
        frame = rest
    } else {
        do { frame = try Zstd.compress(rest, level: 1) } catch {
            fuzzFailure("zstd cannot compress \(rest.count) bytes: \(error)", input: input)
        }
    }

    let blocks: [Block]
    do { blocks = try BatchCodec.decode(frame, header: header) } catch { return false }

    fuzzCheck(UInt64(blocks.count) == header.blockCount, "a batch of \(blocks.count) blocks decoded", input: input)
    for (i, block) in blocks.enumerated() {
        fuzzCheck(
            block.header.rollup == header.rollup && block.header.height == header.firstHeight + UInt64(i),
            "block \(i) of a decoded batch is not the header's", input: input)
    }
    let payload: [UInt8]
    do { payload = try Zstd.decompress(frame, maxOutputSize: BatchCodec.maxPayloadBytes) } catch {
        fuzzFailure("a decoded batch's frame does not decompress: \(error)", input: input)
    }
    fuzzCheck(payload == BatchCodec.payload(blocks), "a batch decoded from a non-canonical payload", input: input)
    fuzzCheck(
        (try? Zstd.decompress(frame, maxOutputSize: payload.count)) == payload,
        "the frame does not decompress within exactly its payload size", input: input)
    fuzzCheck(
        (try? Zstd.decompress(frame, maxOutputSize: payload.count - 1)) == nil,
        "the frame decompresses within a limit below its payload size", input: input)

    let reencoded: [UInt8]
    do { reencoded = try BatchCodec.encode(blocks, level: 1) } catch {
        fuzzFailure("a decoded batch does not encode: \(error)", input: input)
    }
    fuzzCheck(
        (try? BatchCodec.decode(reencoded, header: header)) == blocks, "a batch changes in a round trip", input: input)
    return true
}
