import CZstd

/// A zstd dictionary in the standard format (magic number, ID, entropy tables, content), as written by
/// `zstd --train` or `ZstdDictionary.train`; `zstd -D file` reads the same bytes.
///
/// Frames compressed with a dictionary carry its ID in their header, and decoders pick the dictionary by
/// that ID. Raw-content dictionaries (without the header) are not accepted: they have no ID to pick by.
public struct ZstdDictionary: Sendable, Hashable {
    /// The largest dictionary `train` writes unless told otherwise: 110 KiB, `zstd --train`'s default.
    public static let defaultCapacity = 112_640

    /// The dictionary ID in its header, never 0.
    public let id: UInt32
    /// The dictionary as stored in a file.
    public let bytes: [UInt8]

    /// Accepts `bytes` as a dictionary after checking that it has the dictionary header with a non-zero ID
    /// and that zstd can load its entropy tables.
    ///
    /// Throws `CompressionError.invalidDictionary` when it is not a zstd dictionary, has ID 0, or its tables
    /// are corrupt; `.zstd` when zstd cannot allocate memory to check it.
    public init(bytes: [UInt8]) throws {
        let id = bytes.withUnsafeBytes { ZDICT_getDictID($0.baseAddress, $0.count) }
        guard id != 0 else {
            throw CompressionError.invalidDictionary(
                "\(bytes.count) bytes without a zstd dictionary header (magic 0xEC30A437 and a non-zero ID); "
                    + "use a file written by `zstd --train` or ZstdDictionary.train")
        }
        let digested = bytes.withUnsafeBytes { ZSTD_createDDict($0.baseAddress, $0.count) }
        guard let digested else {
            throw CompressionError.invalidDictionary(
                "dictionary \(id) has corrupt entropy tables; train or copy it again")
        }
        ZSTD_freeDDict(digested)
        self.id = id
        self.bytes = bytes
    }

    /// Trains a dictionary of at most `capacity` bytes on `samples` with zstd's default trainer (fastCover,
    /// as `zstd --train`), for compressing data like the samples, one sample per frame.
    ///
    /// zstd recommends a few thousand samples totalling about 100 times `capacity`. The ID is derived from the
    /// content by zstd and is never 0.
    ///
    /// Throws `CompressionError.trainingFailed` when there are no samples, `capacity` is under 256 bytes, or
    /// zstd cannot train on them (too few samples, most of them under 8 bytes, or too little data).
    public static func train(samples: [[UInt8]], capacity: Int = defaultCapacity) throws -> ZstdDictionary {
        guard !samples.isEmpty else {
            throw CompressionError.trainingFailed("no samples given; pass a few thousand representative samples")
        }
        guard capacity >= 256 else {
            throw CompressionError.trainingFailed("capacity \(capacity) is under zstd's minimum of 256 bytes")
        }
        guard let sampleCount = UInt32(exactly: samples.count) else {
            throw CompressionError.trainingFailed("\(samples.count) samples are more than zstd can take at once")
        }
        let sizes = samples.map(\.count)
        let totalSize = sizes.reduce(0, +)
        var concatenated: [UInt8] = []
        concatenated.reserveCapacity(totalSize)
        for sample in samples { concatenated.append(contentsOf: sample) }

        var dictionary = [UInt8](repeating: 0, count: capacity)
        let result = dictionary.withUnsafeMutableBytes { dictionaryBuffer in
            concatenated.withUnsafeBytes { samplesBuffer in
                ZDICT_trainFromBuffer(
                    dictionaryBuffer.baseAddress, capacity, samplesBuffer.baseAddress, sizes, sampleCount)
            }
        }
        guard ZDICT_isError(result) == 0 else {
            throw CompressionError.trainingFailed(
                "\(String(cString: ZDICT_getErrorName(result))) with \(samples.count) samples of \(totalSize) "
                    + "bytes in all; give more samples (a few thousand, each at least 8 bytes, totalling about "
                    + "100 times the capacity) or use no dictionary")
        }
        dictionary.removeSubrange(result...)
        do {
            return try ZstdDictionary(bytes: dictionary)
        } catch let error as CompressionError {
            throw CompressionError.trainingFailed("zstd produced an unusable dictionary: \(error)")
        }
    }
}
