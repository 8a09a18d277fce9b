import CZstd

/// What compressing, decompressing or handling dictionaries can fail with.
///
/// Decompression errors are about the input: a blob from a peer that fails here is corrupt, truncated,
/// oversized or made with a dictionary this node does not have. None of them leaves a context unusable.
public enum CompressionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The compression level is outside the range the linked zstd supports (`Zstd.levels`).
    case invalidLevel(Int32, allowed: ClosedRange<Int32>)
    /// The input does not start with a standard zstd frame: it is shorter than a magic number, has another
    /// magic number, or is a skippable frame.
    case notAFrame
    /// The input starts like a zstd frame but ends before its header, a block or its checksum does (or a
    /// corrupt block header points past the end).
    case truncatedFrame
    /// The input holds more than one frame, or bytes after its frame: `frameSize` of `inputSize` bytes are
    /// the first frame.
    case trailingData(frameSize: Int, inputSize: Int)
    /// The frame header claims more content than the caller's limit; refused before allocating anything.
    case contentSizeExceedsLimit(claimed: UInt64, limit: Int)
    /// The frame header has no content size and the content grows past the caller's limit; decoding was
    /// aborted with at most `limit` bytes held.
    case outputExceedsLimit(limit: Int)
    /// The frame header claims a content size other than what the frame decodes to.
    case contentSizeMismatch(claimed: UInt64, actual: Int)
    /// The frame names a dictionary ID that is not among the dictionaries given to the decoder.
    case unknownDictionary(id: UInt32)
    /// Bytes given as a dictionary are not a usable zstd dictionary (the reason says why), or two different
    /// dictionaries share an ID.
    case invalidDictionary(String)
    /// Dictionary training failed, usually for too few or too small samples (the reason says which).
    case trainingFailed(String)
    /// zstd itself failed: its error code (`ZSTD_ErrorCode`) and `ZSTD_getErrorName`'s text, for example a
    /// checksum mismatch or corrupt block data.
    case zstd(code: Int, name: String)

    public var description: String {
        switch self {
        case .invalidLevel(let level, let allowed):
            return "compression level \(level) is outside zstd's range \(allowed.lowerBound)...\(allowed.upperBound); "
                + "pick one in that range (1...19 are the usual levels, 3 is zstd's default)"
        case .notAFrame:
            return "the input is not a zstd frame (too short, wrong magic number, or a skippable frame); "
                + "expected one standard zstd frame as written by zstd or Zstd.compress"
        case .truncatedFrame:
            return "the zstd frame ends early: the input was cut short or a block header is corrupt; "
                + "fetch the blob again from a good source"
        case .trailingData(let frameSize, let inputSize):
            return "the input has \(inputSize - frameSize) bytes after its first zstd frame (\(frameSize) of "
                + "\(inputSize) bytes); a blob must be exactly one frame, without concatenated frames or padding"
        case .contentSizeExceedsLimit(let claimed, let limit):
            return "the frame header claims \(claimed) bytes of content, over the limit of \(limit) bytes; "
                + "refused without decompressing (raise maxOutputSize only if such content is legitimate)"
        case .outputExceedsLimit(let limit):
            return "the frame has no content size in its header and decompresses to more than the limit of "
                + "\(limit) bytes; aborted (raise maxOutputSize only if such content is legitimate)"
        case .contentSizeMismatch(let claimed, let actual):
            return "the frame header claims \(claimed) bytes of content but the frame decodes to \(actual); "
                + "the encoder is faulty or the blob was altered"
        case .unknownDictionary(let id):
            return "the frame was compressed with dictionary ID \(id), which is not among the dictionaries given; "
                + "load that dictionary (for a rollup, the one its genesis names)"
        case .invalidDictionary(let reason):
            return "invalid zstd dictionary: \(reason)"
        case .trainingFailed(let reason):
            return "zstd dictionary training failed: \(reason)"
        case .zstd(let code, let name):
            return "zstd failed: \(name) (zstd error code \(code)); if decompressing, the blob is corrupt"
        }
    }

    /// `.zstd` for a `size_t` result of a zstd call that `ZSTD_isError` flags.
    static func zstdError(result: Int) -> CompressionError {
        .zstd(code: Int(ZSTD_getErrorCode(result).rawValue), name: String(cString: ZSTD_getErrorName(result)))
    }

    /// `.zstd` for a zstd error code.
    static func zstdError(_ code: ZSTD_ErrorCode) -> CompressionError {
        .zstd(code: Int(code.rawValue), name: String(cString: ZSTD_getErrorString(code)))
    }

    /// Throws `.zstd` when `result` is a zstd error, else returns it.
    @discardableResult
    static func check(_ result: Int) throws(CompressionError) -> Int {
        if ZSTD_isError(result) != 0 { throw zstdError(result: result) }
        return result
    }
}
