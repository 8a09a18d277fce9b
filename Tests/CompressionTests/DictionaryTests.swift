import Foundation
import Testing

@testable import Compression

/// Trained dictionaries, ours and the CLI's, in both directions.
@Suite struct DictionaryTests {
    /// 2,000 transaction-like records, about 400 KB in all.
    static func samples(seed: UInt64) -> [[UInt8]] {
        var generator = SeededGenerator(seed: seed)
        return (0..<2_000).map { _ in transactionLikeRecord(&generator) }
    }

    /// A small batch of the same kind as the samples, but not one of them.
    static func smallBatch() -> [UInt8] {
        var generator = SeededGenerator(seed: 0xBA7C)
        return (0..<4).flatMap { _ in transactionLikeRecord(&generator) }
    }

    @Test func framesMadeWithOurTrainedDictionaryDecodeWithTheCLI() throws {
        let dictionary = try ZstdDictionary.train(samples: Self.samples(seed: 1), capacity: 16_384)
        #expect(dictionary.id != 0)
        #expect(dictionary.bytes.count <= 16_384)
        let batch = Self.smallBatch()
        let frame = try Zstd.compress(batch, level: 19, dictionary: dictionary)
        #expect(try Zstd.frameHeader(frame).dictionaryID == dictionary.id)
        #expect(try Zstd.frameHeader(frame).contentSize == UInt64(batch.count))
        #expect(frame.count < (try Zstd.compress(batch, level: 19)).count)

        try withTemporaryDirectory { directory in
            try write(dictionary.bytes, to: directory.appendingPathComponent("dictionary"))
            try write(frame, to: directory.appendingPathComponent("batch.zst"))
            try zstdCLI(["-q", "-d", "-D", "dictionary", "batch.zst", "-o", "batch"], in: directory)
            #expect(try read(directory.appendingPathComponent("batch")) == batch)

            let withoutDictionary = try run("zstd", ["-q", "-d", "batch.zst", "-o", "other"], in: directory)
            #expect(withoutDictionary.status != 0)
        }
        #expect(try Zstd.decompress(frame, maxOutputSize: batch.count, dictionaries: [dictionary]) == batch)
    }

    @Test func aDictionaryTrainedByTheCLIDecodesFramesTheCLIMadeWithIt() throws {
        let samples = Self.samples(seed: 2)
        let batch = Self.smallBatch()
        try withTemporaryDirectory { directory in
            let sampleDirectory = directory.appendingPathComponent("samples", isDirectory: true)
            try FileManager.default.createDirectory(at: sampleDirectory, withIntermediateDirectories: true)
            for (index, sample) in samples.enumerated() {
                try write(sample, to: sampleDirectory.appendingPathComponent("sample-\(index)"))
            }
            try zstdCLI(["-q", "--train", "-r", "samples", "--maxdict=16384", "-o", "dictionary"], in: directory)
            try write(batch, to: directory.appendingPathComponent("batch"))
            try zstdCLI(["-q", "-19", "-D", "dictionary", "batch", "-o", "batch.zst"], in: directory)

            let dictionary = try ZstdDictionary(bytes: try read(directory.appendingPathComponent("dictionary")))
            let frame = try read(directory.appendingPathComponent("batch.zst"))
            #expect(try Zstd.frameHeader(frame).dictionaryID == dictionary.id)

            #expect(try Zstd.decompress(frame, maxOutputSize: batch.count, dictionaries: [dictionary]) == batch)
            let other = try ZstdDictionary.train(samples: Self.samples(seed: 3), capacity: 16_384)
            let decompressor = try ZstdDecompressor(dictionaries: [other, dictionary])
            #expect(try decompressor.decompress(frame, maxOutputSize: batch.count) == batch)
            #expect(try decompressor.decompress(frame, maxOutputSize: batch.count) == batch)
        }
    }

    @Test func aFrameNamingAnAbsentDictionaryIsRejectedWithItsID() throws {
        let dictionary = try ZstdDictionary.train(samples: Self.samples(seed: 4), capacity: 8_192)
        let frame = try Zstd.compress(Self.smallBatch(), dictionary: dictionary)
        #expect(throws: CompressionError.unknownDictionary(id: dictionary.id)) {
            _ = try Zstd.decompress(frame, maxOutputSize: 1 << 20)
        }
        let other = try ZstdDictionary.train(samples: Self.samples(seed: 5), capacity: 8_192)
        #expect(throws: CompressionError.unknownDictionary(id: dictionary.id)) {
            _ = try Zstd.decompress(frame, maxOutputSize: 1 << 20, dictionaries: [other])
        }
    }

    @Test func aReusableCompressorWithADictionaryMatchesTheStaticFunction() throws {
        let dictionary = try ZstdDictionary.train(samples: Self.samples(seed: 6), capacity: 8_192)
        let compressor = try ZstdCompressor(level: 3, dictionary: dictionary)
        let decompressor = try ZstdDecompressor(dictionaries: [dictionary])
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<20 {
            let batch = (0..<Int(generator.next() % 8)).flatMap { _ in transactionLikeRecord(&generator) }
            let frame = try compressor.compress(batch)
            #expect(frame == (try Zstd.compress(batch, level: 3, dictionary: dictionary)))
            #expect(try decompressor.decompress(frame, maxOutputSize: batch.count) == batch)
        }
    }

    @Test func trainingWithTooFewSamplesFailsWithAClearError() throws {
        #expect(
            throws: CompressionError.trainingFailed(
                "no samples given; pass a few thousand representative samples")
        ) {
            try ZstdDictionary.train(samples: [])
        }
        let error = #expect(throws: CompressionError.self) {
            try ZstdDictionary.train(samples: Array(Self.samples(seed: 8).prefix(3)))
        }
        guard case .trainingFailed(let reason) = error else {
            Issue.record("expected trainingFailed, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("3 samples"))
        #expect(throws: CompressionError.self) {
            try ZstdDictionary.train(samples: Self.samples(seed: 9), capacity: 100)
        }
    }

    @Test func bytesThatAreNotADictionaryAreRejected() throws {
        var generator = SeededGenerator(seed: 10)
        for bytes in [[], generator.bytes(4), generator.bytes(4_096), Array(Self.smallBatch())] {
            let error = #expect(throws: CompressionError.self) { try ZstdDictionary(bytes: bytes) }
            guard case .invalidDictionary = error else {
                Issue.record("expected invalidDictionary, got \(String(describing: error))")
                continue
            }
        }
        var damaged = try ZstdDictionary.train(samples: Self.samples(seed: 11), capacity: 8_192).bytes
        for index in 8..<64 { damaged[index] = 0xFF }
        let error = #expect(throws: CompressionError.self) { try ZstdDictionary(bytes: damaged) }
        guard case .invalidDictionary(let reason) = error else {
            Issue.record("expected invalidDictionary, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("entropy tables"))
    }

    @Test func twoDifferentDictionariesWithOneIDAreRejected() throws {
        let dictionary = try ZstdDictionary.train(samples: Self.samples(seed: 12), capacity: 8_192)
        var altered = dictionary.bytes
        altered[altered.count - 1] ^= 0xFF
        let twin = try ZstdDictionary(bytes: altered)
        #expect(twin.id == dictionary.id)
        #expect(throws: CompressionError.self) { try ZstdDecompressor(dictionaries: [dictionary, twin]) }
        #expect(throws: Never.self) { try ZstdDecompressor(dictionaries: [dictionary, dictionary]) }
    }
}
