import CZstd

/// One-call zstd compression and bomb-proof decompression of single frames, as used for batch blobs.
///
/// Each call sets up a fresh context; hot paths reuse a `ZstdCompressor` or `ZstdDecompressor` instead, with
/// the same results.
public enum Zstd {
    /// The compression levels the linked zstd accepts: `ZSTD_minCLevel()...ZSTD_maxCLevel()`. Level 0 means
    /// zstd's default (3), negative levels trade ratio for speed, and levels over 19 need much more memory.
    public static let levels: ClosedRange<Int32> = ZSTD_minCLevel()...ZSTD_maxCLevel()

    /// Compresses `input` into one standard zstd frame with the content size, the checksum flag and, with a
    /// dictionary, its ID in the header, so `zstd -d` (with `-D` for a dictionary) decodes it.
    ///
    /// Throws `CompressionError.invalidLevel` for a level outside `levels`, `.invalidDictionary` when zstd
    /// cannot load the dictionary, and `.zstd` when zstd fails (allocation).
    public static func compress(
        _ input: [UInt8], level: Int32 = 3, dictionary: ZstdDictionary? = nil
    ) throws -> [UInt8] {
        try ZstdCompressor(level: level, dictionary: dictionary).compress(input)
    }

    /// Decompresses `frame`, which must be exactly one standard zstd frame, into at most `maxOutputSize`
    /// bytes, picking the dictionary a frame names from `dictionaries` by ID.
    ///
    /// A header claiming more than the limit is refused before anything is allocated; a frame without a
    /// content size is abandoned as soon as its output passes the limit. The checksum is verified.
    ///
    /// Throws the `CompressionError`s listed at `ZstdDecompressor.decompress(_:maxOutputSize:)`.
    public static func decompress(
        _ frame: [UInt8], maxOutputSize: Int, dictionaries: [ZstdDictionary] = []
    ) throws -> [UInt8] {
        try ZstdDecompressor(dictionaries: dictionaries).decompress(frame, maxOutputSize: maxOutputSize)
    }

    /// Reads the header of the zstd frame at the start of `frame`, without decoding or checking the rest.
    ///
    /// Throws `CompressionError.notAFrame` (too short, another magic number, a skippable frame),
    /// `.truncatedFrame` (the header is incomplete), or `.zstd` (frameParameter_unsupported) when the header's
    /// reserved bit is set.
    public static func frameHeader(_ frame: [UInt8]) throws -> FrameHeader {
        try frame.withUnsafeBytes { bytes throws(CompressionError) in try FrameLayout(parsing: bytes).header }
    }
}
