import CZstd

/// The fields of a zstd frame header (RFC 8878 §3.1.1.1) that a reader of blobs cares about.
public struct FrameHeader: Sendable, Equatable {
    /// The content size the header declares, or nil when the encoder did not know it (e.g. `zstd` reading a
    /// pipe). A declared size is a claim, checked when the frame is decoded.
    public let contentSize: UInt64?
    /// The ID of the dictionary the frame needs, or nil when the header names none.
    public let dictionaryID: UInt32?
    /// Whether the frame ends with a content checksum (the low 32 bits of XXH64).
    public let hasChecksum: Bool
    /// The window the decoder must keep, in bytes; for a single-segment frame, its content size.
    public let windowSize: UInt64
}

/// A parsed header and where it ends, for the decoder.
struct FrameLayout {
    static let magic: UInt32 = 0xFD2F_B528
    static let skippableMagicMask: UInt32 = 0xFFFF_FFF0
    static let skippableMagicStart: UInt32 = 0x184D_2A50

    let header: FrameHeader
    /// Bytes from the magic number to the first block header.
    let headerSize: Int
    /// Where the Dictionary_ID field starts and its size (0, 1, 2 or 4 bytes).
    let dictionaryIDField: Range<Int>

    /// Parses the header at the start of `bytes`; anything after it is not looked at.
    ///
    /// Throws `.notAFrame` when the input is shorter than a magic number, has another magic number or is a
    /// skippable frame; `.truncatedFrame` when the header is incomplete; `.zstd` (frameParameter_unsupported)
    /// when the header's reserved bit is set.
    init(parsing bytes: UnsafeRawBufferPointer) throws(CompressionError) {
        guard bytes.count >= 4 else { throw .notAFrame }
        let magic = Self.littleEndian(bytes, at: 0, size: 4)
        guard magic == UInt64(Self.magic) else { throw .notAFrame }
        guard bytes.count >= 5 else { throw .truncatedFrame }

        let descriptor = bytes[4]
        let contentSizeFlag = Int(descriptor >> 6)
        let singleSegment = descriptor & 0x20 != 0
        let hasChecksum = descriptor & 0x04 != 0
        let dictionaryIDFlag = Int(descriptor & 0x03)
        guard descriptor & 0x08 == 0 else { throw .zstdError(ZSTD_error_frameParameter_unsupported) }

        let dictionaryIDSize = [0, 1, 2, 4][dictionaryIDFlag]
        let contentSizeSize = [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag]
        let headerSize = 5 + (singleSegment ? 0 : 1) + dictionaryIDSize + contentSizeSize
        guard bytes.count >= headerSize else { throw .truncatedFrame }

        var position = 5
        var windowSize: UInt64 = 0
        if !singleSegment {
            let windowDescriptor = bytes[position]
            let windowBase = UInt64(1) << (10 + UInt64(windowDescriptor >> 3))
            windowSize = windowBase + (windowBase / 8) * UInt64(windowDescriptor & 0x07)
            position += 1
        }
        let dictionaryIDField = position..<(position + dictionaryIDSize)
        let dictionaryID = UInt32(Self.littleEndian(bytes, at: position, size: dictionaryIDSize))
        position += dictionaryIDSize
        var contentSize: UInt64?
        if contentSizeSize > 0 {
            let field = Self.littleEndian(bytes, at: position, size: contentSizeSize)
            contentSize = contentSizeSize == 2 ? field + 256 : field
        }
        if singleSegment, let contentSize { windowSize = contentSize }

        self.header = FrameHeader(
            contentSize: contentSize, dictionaryID: dictionaryID == 0 ? nil : dictionaryID,
            hasChecksum: hasChecksum, windowSize: windowSize)
        self.headerSize = headerSize
        self.dictionaryIDField = dictionaryIDField
    }

    /// The same frame with a header that declares no content size and a window of `2^windowLog` bytes, so
    /// zstd decodes it without holding it to its original claim. The checksum and dictionary ID are kept.
    func withoutContentSize(_ frame: UnsafeRawBufferPointer, windowLog: Int) -> [UInt8] {
        let descriptor = frame[4] & 0x0F
        var rewritten: [UInt8] = []
        rewritten.reserveCapacity(frame.count + 1)
        rewritten.append(contentsOf: frame[0..<4])
        rewritten.append(descriptor)
        rewritten.append(UInt8(windowLog - 10) << 3)
        rewritten.append(contentsOf: frame[dictionaryIDField])
        rewritten.append(contentsOf: frame[headerSize...])
        return rewritten
    }

    private static func littleEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in stride(from: size - 1, through: 0, by: -1) {
            value = value << 8 | UInt64(bytes[offset + index])
        }
        return value
    }
}
