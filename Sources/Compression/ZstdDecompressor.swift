import CZstd

/// A reusable zstd decompression context for untrusted blobs: the same rules as `Zstd.decompress`, without
/// setting up a context for every call, and with each dictionary digested once, on first use.
///
/// The input must be exactly one standard zstd frame. The output never exceeds the caller's limit: a header
/// that claims more is refused before anything is allocated, and a frame without a content size is decoded
/// in steps and abandoned as soon as its output passes the limit. A failed call leaves the context usable.
///
/// A decompressor is not thread-safe: use one per thread or task.
public final class ZstdDecompressor {
    /// The dictionaries frames may name, by ID.
    public let dictionaries: [UInt32: ZstdDictionary]

    private let context: OpaquePointer
    private var digestedDictionaries: [UInt32: OpaquePointer] = [:]
    /// Where streaming decompression writes before the bytes are moved to the result; allocated on first use.
    private var chunk = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// Creates a context that decodes frames made without a dictionary or with one of `dictionaries`.
    ///
    /// Throws `CompressionError.invalidDictionary` when two different dictionaries share an ID, and `.zstd`
    /// when zstd cannot allocate the context.
    public init(dictionaries: [ZstdDictionary] = []) throws {
        var byID: [UInt32: ZstdDictionary] = [:]
        for dictionary in dictionaries {
            if let known = byID[dictionary.id], known != dictionary {
                throw CompressionError.invalidDictionary(
                    "two different dictionaries have ID \(dictionary.id); a frame could not tell them apart, "
                        + "so pass only one of them")
            }
            byID[dictionary.id] = dictionary
        }
        guard let context = ZSTD_createDCtx() else {
            throw CompressionError.zstdError(ZSTD_error_memory_allocation)
        }
        self.dictionaries = byID
        self.context = context
    }

    deinit {
        chunk.deallocate()
        ZSTD_freeDCtx(context)
        for digested in digestedDictionaries.values { ZSTD_freeDDict(digested) }
    }

    /// Decompresses `frame`, which must be exactly one standard zstd frame, into at most `maxOutputSize` bytes
    /// (a negative limit counts as 0).
    ///
    /// A frame that names a dictionary is decoded with the given dictionary of that ID; a frame that names
    /// none is decoded without one. The content checksum, when the frame has one, is verified.
    ///
    /// Throws `CompressionError`: `.notAFrame` (too short, another magic number, a skippable frame),
    /// `.truncatedFrame`, `.trailingData` (a second frame or other bytes after the frame),
    /// `.contentSizeExceedsLimit` (refused from the header alone), `.outputExceedsLimit` (no content size in
    /// the header, and the content passes the limit), `.contentSizeMismatch`, `.unknownDictionary`, and
    /// `.zstd` for what zstd detects while decoding (checksum mismatch, corrupt blocks, or, in a frame without a
    /// content size, a window over zstd's default limit of 128 MiB).
    public func decompress(_ frame: [UInt8], maxOutputSize: Int) throws -> [UInt8] {
        try frame.withUnsafeBytes { try decompress($0, maxOutputSize: maxOutputSize) }
    }

    /// Decompresses the bytes of `frame`, as `decompress(_: [UInt8], maxOutputSize:)`.
    public func decompress(_ frame: UnsafeRawBufferPointer, maxOutputSize: Int) throws -> [UInt8] {
        let limit = max(0, maxOutputSize)
        let layout = try FrameLayout(parsing: frame)
        let frameSize = ZSTD_findFrameCompressedSize(frame.baseAddress, frame.count)
        if ZSTD_isError(frameSize) != 0 {
            throw ZSTD_getErrorCode(frameSize) == ZSTD_error_srcSize_wrong
                ? CompressionError.truncatedFrame : CompressionError.zstdError(result: frameSize)
        }
        guard frameSize == frame.count else {
            throw CompressionError.trailingData(frameSize: frameSize, inputSize: frame.count)
        }
        guard let claimed = layout.header.contentSize else {
            try prepare(dictionaryID: layout.header.dictionaryID)
            return try decompressStreaming(frame, limit: limit)
        }
        guard claimed <= UInt64(limit) else {
            throw CompressionError.contentSizeExceedsLimit(claimed: claimed, limit: limit)
        }
        try prepare(dictionaryID: layout.header.dictionaryID)
        do {
            return try decompressInOnePass(frame, contentSize: Int(claimed))
        } catch {
            // zstd reports a false size claim as corruption, or as a full output buffer when the content is
            // larger; tell those apart from real corruption by decoding again without the claim.
            guard case .zstd(let code, _) = error,
                code == Int(ZSTD_error_corruption_detected.rawValue)
                    || code == Int(ZSTD_error_dstSize_tooSmall.rawValue),
                let actual = try? measureIgnoringContentSize(frame, layout: layout, limit: limit),
                UInt64(actual) != claimed
            else { throw error }
            throw CompressionError.contentSizeMismatch(claimed: claimed, actual: actual)
        }
    }

    /// Resets the context and references the dictionary a frame names, digesting it on first use.
    private func prepare(dictionaryID: UInt32?) throws(CompressionError) {
        try CompressionError.check(ZSTD_DCtx_reset(context, ZSTD_reset_session_and_parameters))
        guard let dictionaryID else { return }
        guard let dictionary = dictionaries[dictionaryID] else {
            throw .unknownDictionary(id: dictionaryID)
        }
        let digested: OpaquePointer
        if let known = digestedDictionaries[dictionaryID] {
            digested = known
        } else {
            guard let created = dictionary.bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) })
            else {
                throw .invalidDictionary("zstd could not load dictionary \(dictionaryID) for decompression")
            }
            digestedDictionaries[dictionaryID] = created
            digested = created
        }
        try CompressionError.check(ZSTD_DCtx_refDDict(context, digested))
    }

    /// Decodes a frame whose header declares `contentSize` (already checked against the limit) straight into
    /// a result of exactly that size.
    private func decompressInOnePass(
        _ frame: UnsafeRawBufferPointer, contentSize: Int
    ) throws(CompressionError) -> [UInt8] {
        var failure: CompressionError?
        let output = [UInt8](unsafeUninitializedCapacity: contentSize) { buffer, initialized in
            let result = ZSTD_decompressDCtx(context, buffer.baseAddress, contentSize, frame.baseAddress, frame.count)
            if ZSTD_isError(result) != 0 {
                failure = .zstdError(result: result)
            } else if result != contentSize {
                failure = .contentSizeMismatch(claimed: UInt64(contentSize), actual: result)
            } else {
                initialized = result
            }
        }
        if let failure { throw failure }
        return output
    }

    /// Decodes a frame in steps through a fixed chunk, growing the result geometrically but never past
    /// `limit`, and stops as soon as the content would pass it.
    private func decompressStreaming(
        _ frame: UnsafeRawBufferPointer, limit: Int
    ) throws(CompressionError) -> [UInt8] {
        if chunk.count == 0 {
            chunk = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
        }
        var output: [UInt8] = []
        var input = ZSTD_inBuffer(src: frame.baseAddress, size: frame.count, pos: 0)
        while true {
            var step = ZSTD_outBuffer(dst: chunk.baseAddress, size: chunk.count, pos: 0)
            let remaining = try CompressionError.check(ZSTD_decompressStream(context, &step, &input))
            if step.pos > 0 {
                let needed = output.count + step.pos
                guard needed <= limit else { throw .outputExceedsLimit(limit: limit) }
                if output.capacity < needed {
                    output.reserveCapacity(min(limit, max(needed, 2 * output.capacity)))
                }
                output.append(contentsOf: UnsafeRawBufferPointer(start: chunk.baseAddress, count: step.pos))
            }
            if remaining == 0 { return output }
            if input.pos == input.size && step.pos < step.size { throw .truncatedFrame }
        }
    }

    /// The size `frame` decodes to when its header's content size is ignored; throws when it does not decode
    /// within `limit` bytes. Any content within the limit fits in a window of the limit rounded up to a power
    /// of two, so that is the window the rewritten header declares.
    private func measureIgnoringContentSize(
        _ frame: UnsafeRawBufferPointer, layout: FrameLayout, limit: Int
    ) throws -> Int {
        let windowLog = min(31, max(10, Int.bitWidth - max(limit - 1, 0).leadingZeroBitCount))
        let rewritten = layout.withoutContentSize(frame, windowLog: windowLog)
        try prepare(dictionaryID: layout.header.dictionaryID)
        try CompressionError.check(ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(windowLog)))
        return try rewritten.withUnsafeBytes { try decompressStreaming($0, limit: limit).count }
    }
}

@available(*, unavailable, message: "a ZstdDecompressor is not thread-safe; create one per thread or task")
extension ZstdDecompressor: Sendable {}
