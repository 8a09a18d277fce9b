import CZstd

/// A reusable zstd compression context: the same frames as `Zstd.compress`, without setting up a context
/// (and digesting the dictionary) for every call.
///
/// Every frame is one standard zstd frame whose header has the content size, the checksum flag and, with a
/// dictionary, the dictionary ID; `zstd -d` (with `-D` for a dictionary) decodes it. Output for the same input,
/// level and dictionary is the same across calls, but may differ between zstd versions.
///
/// Besides zstd's context, a compressor keeps one scratch buffer as large as `ZSTD_compressBound` of the
/// largest input it has compressed, so each call allocates only its result. It is not thread-safe: use one
/// per thread or task.
public final class ZstdCompressor {
    /// The compression level every frame is made with.
    public let level: Int32
    /// The dictionary every frame is made with, if any.
    public let dictionary: ZstdDictionary?

    private let context: OpaquePointer
    private let digestedDictionary: OpaquePointer?
    /// Room for the largest frame of the inputs seen so far (`ZSTD_compressBound`), reused between calls.
    private var scratch: UnsafeMutableRawBufferPointer

    /// Creates a context for `level` (0 means zstd's default, 3; negative levels are faster and weaker) and an
    /// optional dictionary, which is digested once here.
    ///
    /// Throws `CompressionError.invalidLevel` for a level outside `Zstd.levels`, `.invalidDictionary` when zstd
    /// cannot load the dictionary, and `.zstd` when zstd cannot allocate the context.
    public init(level: Int32 = 3, dictionary: ZstdDictionary? = nil) throws {
        guard Zstd.levels.contains(level) else {
            throw CompressionError.invalidLevel(level, allowed: Zstd.levels)
        }
        guard let context = ZSTD_createCCtx() else {
            throw CompressionError.zstdError(ZSTD_error_memory_allocation)
        }
        var digested: OpaquePointer?
        do {
            try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
            try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1))
            try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
            try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 1))
            if let dictionary {
                digested = dictionary.bytes.withUnsafeBytes { ZSTD_createCDict($0.baseAddress, $0.count, level) }
                guard let digested else {
                    throw CompressionError.invalidDictionary(
                        "zstd could not load dictionary \(dictionary.id) for compression")
                }
                try CompressionError.check(ZSTD_CCtx_refCDict(context, digested))
            }
        } catch {
            ZSTD_freeCDict(digested)
            ZSTD_freeCCtx(context)
            throw error
        }
        self.level = level
        self.dictionary = dictionary
        self.context = context
        self.digestedDictionary = digested
        self.scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }

    deinit {
        scratch.deallocate()
        ZSTD_freeCCtx(context)
        ZSTD_freeCDict(digestedDictionary)
    }

    /// Compresses `input` into one frame; an empty input gives a valid frame of empty content.
    ///
    /// Throws `CompressionError.zstd` if zstd fails (only for allocation failures or inputs over zstd's
    /// maximum size).
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0) }
    }

    /// Compresses the bytes of `input` into one frame, as `compress(_: [UInt8])`.
    public func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = try CompressionError.check(ZSTD_compressBound(input.count))
        if scratch.count < bound {
            scratch.deallocate()
            scratch = .allocate(byteCount: bound, alignment: 16)
        }
        // With room for the bound, zstd compresses in one pass straight into the scratch buffer.
        let size = try CompressionError.check(
            ZSTD_compress2(context, scratch.baseAddress, scratch.count, input.baseAddress, input.count))
        return [UInt8](UnsafeRawBufferPointer(rebasing: scratch[0..<size]))
    }
}

@available(*, unavailable, message: "a ZstdCompressor is not thread-safe; create one per thread or task")
extension ZstdCompressor: Sendable {}
