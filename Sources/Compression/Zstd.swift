import CZstd

/// What compressing or decompressing can fail with.
public enum CompressionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The level is outside zstd's range.
    case invalidLevel(Int32, allowed: ClosedRange<Int32>)
    /// The input is not a zstd frame (too short, wrong magic number, or a skippable frame).
    case notAFrame
    /// The input holds more than one frame, or bytes after the frame.
    case trailingData(frameSize: Int, inputSize: Int)
    /// The frame header claims more output than the limit: refused before allocating anything.
    case contentSizeExceedsLimit(claimed: UInt64, limit: Int)
    /// The frame has no size in its header and inflates past the limit: stopped at the limit.
    case outputExceedsLimit(limit: Int)
    /// The frame decompressed to a different size than its header claims.
    case contentSizeMismatch(claimed: UInt64, actual: Int)
    /// The frame names a dictionary that was not supplied.
    case unknownDictionary(id: UInt32)
    /// Bytes that are not a usable zstd dictionary.
    case invalidDictionary(String)
    /// Training a dictionary failed.
    case trainingFailed(String)
    /// zstd reported an error (corruption, checksum mismatch, …): its code and name.
    case zstd(code: Int, name: String)

    public var description: String {
        switch self {
        case .invalidLevel(let level, let allowed):
            return "zstd level \(level) is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        case .notAFrame: return "input is not a zstd frame"
        case .trailingData(let frame, let input):
            return "input holds \(input - frame) bytes after its first zstd frame of \(frame) bytes; exactly one frame is allowed"
        case .contentSizeExceedsLimit(let claimed, let limit):
            return "zstd frame claims \(claimed) bytes of content, over the limit of \(limit)"
        case .outputExceedsLimit(let limit): return "zstd frame inflates past the limit of \(limit) bytes"
        case .contentSizeMismatch(let claimed, let actual):
            return "zstd frame claims \(claimed) bytes but decompressed to \(actual)"
        case .unknownDictionary(let id): return "zstd frame needs dictionary \(id), which was not supplied"
        case .invalidDictionary(let why): return "not a zstd dictionary: \(why)"
        case .trainingFailed(let why): return "zstd dictionary training failed: \(why) (supply more, and more varied, samples)"
        case .zstd(let code, let name): return "zstd error \(code): \(name)"
        }
    }

    static func check(_ result: Int) throws -> Int {
        if ZSTD_isError(result) != 0 {
            throw CompressionError.zstd(code: Int(ZSTD_getErrorCode(result).rawValue), name: String(cString: ZSTD_getErrorName(result)))
        }
        return result
    }
}

/// A zstd dictionary, identified by the ID in its header.
public struct ZstdDictionary: Sendable, Hashable {
    /// The dictionary ID (non-zero); frames made with it carry it in their header.
    public let id: UInt32
    /// The dictionary's bytes, as `zstd --train` writes them and `zstd -D` reads them.
    public let bytes: [UInt8]

    /// Wraps dictionary bytes, checking they carry a zstd dictionary header.
    public init(bytes: [UInt8]) throws {
        let id = bytes.withUnsafeBytes { ZDICT_getDictID($0.baseAddress, $0.count) }
        guard id != 0 else { throw CompressionError.invalidDictionary("no zstd dictionary header (dictionary ID 0)") }
        self.id = id
        self.bytes = bytes
    }

    /// Trains a dictionary of at most `capacity` bytes from sample payloads (ZDICT_trainFromBuffer).
    public static func train(samples: [[UInt8]], capacity: Int = 112_640) throws -> ZstdDictionary {
        guard !samples.isEmpty else { throw CompressionError.trainingFailed("no samples") }
        let joined = samples.flatMap { $0 }
        let sizes = samples.map { $0.count }
        var buffer = [UInt8](repeating: 0, count: capacity)
        let size = buffer.withUnsafeMutableBytes { dict in
            joined.withUnsafeBytes { src in
                sizes.withUnsafeBufferPointer { sz in
                    ZDICT_trainFromBuffer(dict.baseAddress, dict.count, src.baseAddress, sz.baseAddress, UInt32(sz.count))
                }
            }
        }
        if ZDICT_isError(size) != 0 { throw CompressionError.trainingFailed(String(cString: ZDICT_getErrorName(size))) }
        return try ZstdDictionary(bytes: Array(buffer[..<size]))
    }
}

/// What a frame header says (RFC 8878 §3.1.1.1).
public struct FrameHeader: Sendable, Equatable {
    /// The decompressed size, when the header carries it.
    public var contentSize: UInt64?
    /// The dictionary the frame needs, when the header names one.
    public var dictionaryID: UInt32?
    /// Whether a content checksum (XXH64) follows the data.
    public var hasChecksum: Bool
    /// The window the decoder needs.
    public var windowSize: UInt64
}

/// One-shot zstd helpers. Each call makes its own context; use `ZstdCompressor` /
/// `ZstdDecompressor` on hot paths.
public enum Zstd {
    /// The levels zstd accepts.
    public static var levels: ClosedRange<Int32> { ZSTD_minCLevel()...ZSTD_maxCLevel() }

    /// Compresses `input` into ONE standard frame with the content size and a checksum in its
    /// header (and the dictionary ID, with a dictionary), so `zstd -d` (with `-D dict`) decodes it.
    public static func compress(_ input: [UInt8], level: Int32 = 3, dictionary: ZstdDictionary? = nil) throws -> [UInt8] {
        try ZstdCompressor(level: level, dictionary: dictionary).compress(input)
    }

    /// Decompresses exactly one frame, never producing more than `maxOutputSize` bytes.
    public static func decompress(_ frame: [UInt8], maxOutputSize: Int, dictionaries: [ZstdDictionary] = []) throws -> [UInt8] {
        try ZstdDecompressor(dictionaries: dictionaries).decompress(frame, maxOutputSize: maxOutputSize)
    }

    /// Parses the header of the frame at the start of `frame`.
    public static func frameHeader(_ frame: [UInt8]) throws -> FrameHeader {
        try frame.withUnsafeBytes { try frameHeader($0) }
    }

    static let magic: UInt32 = 0xFD2F_B528

    static func frameHeader(_ raw: UnsafeRawBufferPointer) throws -> FrameHeader {
        guard raw.count >= 5, raw.loadUnaligned(as: UInt32.self).littleEndian == magic else {
            throw CompressionError.notAFrame
        }
        let descriptor = raw[4]
        let fcsFlag = Int(descriptor >> 6)
        let singleSegment = descriptor & 0x20 != 0
        guard descriptor & 0x08 == 0 else { throw CompressionError.zstd(code: 0, name: "reserved bit set in frame header") }
        let hasChecksum = descriptor & 0x04 != 0
        let dictionaryIDBytes = [0, 1, 2, 4][Int(descriptor & 0x03)]
        let contentSizeBytes = fcsFlag == 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]
        var offset = 5
        func little(_ count: Int) throws -> UInt64 {
            guard offset + count <= raw.count else { throw CompressionError.zstd(code: 0, name: "frame header truncated") }
            var value: UInt64 = 0
            for i in 0..<count { value |= UInt64(raw[offset + i]) << (8 * UInt64(i)) }
            offset += count
            return value
        }
        var window: UInt64 = 0
        if !singleSegment {
            let wd = try little(1)
            let windowLog = 10 + (wd >> 3)
            let base: UInt64 = 1 << windowLog
            window = base + (base / 8) * (wd & 7)
        }
        let dictionaryID = try little(dictionaryIDBytes)
        var contentSize: UInt64? = nil
        if contentSizeBytes > 0 {
            let value = try little(contentSizeBytes)
            contentSize = contentSizeBytes == 2 ? value + 256 : value
        }
        if singleSegment { window = contentSize ?? 0 }
        return FrameHeader(
            contentSize: contentSize, dictionaryID: dictionaryID == 0 ? nil : UInt32(dictionaryID),
            hasChecksum: hasChecksum, windowSize: window)
    }
}

/// A reusable compression context (not thread-safe: one per thread or task).
public final class ZstdCompressor {
    private let context: OpaquePointer
    private let dictionary: OpaquePointer?
    /// The compression level.
    public let level: Int32

    /// A compressor at `level`, optionally with a dictionary (its ID goes into every frame).
    public init(level: Int32 = 3, dictionary: ZstdDictionary? = nil) throws {
        guard Zstd.levels.contains(level) else { throw CompressionError.invalidLevel(level, allowed: Zstd.levels) }
        guard let context = ZSTD_createCCtx() else { throw CompressionError.zstd(code: 0, name: "out of memory") }
        self.context = context
        self.level = level
        if let dictionary {
            self.dictionary = dictionary.bytes.withUnsafeBytes { ZSTD_createCDict($0.baseAddress, $0.count, level) }
            guard self.dictionary != nil else {
                ZSTD_freeCCtx(context)
                throw CompressionError.invalidDictionary("zstd could not load it")
            }
        } else {
            self.dictionary = nil
        }
        do {
            _ = try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
            _ = try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
            _ = try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1))
            _ = try CompressionError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 1))
            if let cdict = self.dictionary { _ = try CompressionError.check(ZSTD_CCtx_refCDict(context, cdict)) }
        } catch {
            ZSTD_freeCCtx(context)
            if let cdict = self.dictionary { ZSTD_freeCDict(cdict) }
            throw error
        }
    }

    deinit {
        ZSTD_freeCCtx(context)
        if let dictionary { ZSTD_freeCDict(dictionary) }
    }

    /// Compresses `input` into one frame.
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0) }
    }

    /// Compresses raw bytes into one frame.
    public func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var failure: (any Error)?
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            let written = ZSTD_compress2(context, buffer.baseAddress, bound, input.baseAddress, input.count)
            do { count = try CompressionError.check(written) } catch {
                failure = error
                count = 0
            }
        }
        if let failure {
            ZSTD_CCtx_reset(context, ZSTD_reset_session_only)
            throw failure
        }
        return out
    }
}

/// A reusable decompression context (not thread-safe: one per thread or task).
public final class ZstdDecompressor {
    private let context: OpaquePointer
    private let dictionaries: [UInt32: OpaquePointer]

    /// A decompressor that knows `dictionaries` (picked by the ID in each frame).
    public init(dictionaries: [ZstdDictionary] = []) throws {
        guard let context = ZSTD_createDCtx() else { throw CompressionError.zstd(code: 0, name: "out of memory") }
        self.context = context
        var loaded: [UInt32: OpaquePointer] = [:]
        for d in dictionaries {
            guard let ddict = d.bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else {
                for (_, p) in loaded { ZSTD_freeDDict(p) }
                ZSTD_freeDCtx(context)
                throw CompressionError.invalidDictionary("zstd could not load dictionary \(d.id)")
            }
            loaded[d.id] = ddict
        }
        self.dictionaries = loaded
    }

    deinit {
        ZSTD_freeDCtx(context)
        for (_, ddict) in dictionaries { ZSTD_freeDDict(ddict) }
    }

    /// Decompresses exactly one frame into at most `maxOutputSize` bytes. A header that claims
    /// more is refused before anything is allocated; a frame without a size is decompressed in
    /// bounded steps and stopped at the limit.
    public func decompress(_ frame: [UInt8], maxOutputSize: Int) throws -> [UInt8] {
        try frame.withUnsafeBytes { try decompress($0, maxOutputSize: maxOutputSize) }
    }

    /// Decompresses exactly one frame from raw bytes (see `decompress(_:maxOutputSize:)`).
    public func decompress(_ src: UnsafeRawBufferPointer, maxOutputSize: Int) throws -> [UInt8] {
        let header = try Zstd.frameHeader(src)
        let frameSize = try CompressionError.check(ZSTD_findFrameCompressedSize(src.baseAddress, src.count))
        guard frameSize == src.count else { throw CompressionError.trailingData(frameSize: frameSize, inputSize: src.count) }
        var ddict: OpaquePointer? = nil
        if let id = header.dictionaryID {
            guard let d = dictionaries[id] else { throw CompressionError.unknownDictionary(id: id) }
            ddict = d
        }
        _ = try CompressionError.check(ZSTD_DCtx_reset(context, ZSTD_reset_session_and_parameters))
        if let size = header.contentSize {
            guard size <= UInt64(maxOutputSize) else {
                throw CompressionError.contentSizeExceedsLimit(claimed: size, limit: maxOutputSize)
            }
            var failure: (any Error)?
            let out = [UInt8](unsafeUninitializedCapacity: Int(size)) { buffer, count in
                let written = ddict == nil
                    ? ZSTD_decompressDCtx(context, buffer.baseAddress, Int(size), src.baseAddress, src.count)
                    : ZSTD_decompress_usingDDict(context, buffer.baseAddress, Int(size), src.baseAddress, src.count, ddict)
                do { count = try CompressionError.check(written) } catch {
                    failure = error
                    count = 0
                }
            }
            if let failure { throw failure }
            guard out.count == Int(size) else { throw CompressionError.contentSizeMismatch(claimed: size, actual: out.count) }
            return out
        }
        return try decompressStreaming(src, maxOutputSize: maxOutputSize, dictionary: ddict)
    }

    private func decompressStreaming(_ src: UnsafeRawBufferPointer, maxOutputSize: Int, dictionary: OpaquePointer?) throws -> [UInt8] {
        if let dictionary { _ = try CompressionError.check(ZSTD_DCtx_refDDict(context, dictionary)) }
        var out: [UInt8] = []
        let chunk = ZSTD_DStreamOutSize()
        var scratch = [UInt8](repeating: 0, count: chunk)
        var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
        while true {
            let (remaining, produced) = try scratch.withUnsafeMutableBytes { dst -> (Int, Int) in
                var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                let r = try CompressionError.check(ZSTD_decompressStream(context, &output, &input))
                return (r, output.pos)
            }
            guard out.count + produced <= maxOutputSize else { throw CompressionError.outputExceedsLimit(limit: maxOutputSize) }
            out.append(contentsOf: scratch[..<produced])
            if remaining == 0 { return out }
            if input.pos == input.size && produced == 0 {
                throw CompressionError.zstd(code: 0, name: "frame ended before its last block")
            }
        }
    }
}
