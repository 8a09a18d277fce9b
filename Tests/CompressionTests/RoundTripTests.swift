import Foundation
import Testing

@testable import Compression

/// Random inputs compress and decompress to the same bytes, with the header describing them.
@Suite struct RoundTripTests {
    /// Fixed so failures reproduce; set COMPRESSION_TEST_SEED to explore others.
    static let seed: UInt64 =
        ProcessInfo.processInfo.environment["COMPRESSION_TEST_SEED"].flatMap { UInt64($0) }
        ?? 0x7B1B_0A7E

    @Test func randomInputsRoundTripAtSeveralLevels() throws {
        print("RoundTripTests seed: \(Self.seed) (set COMPRESSION_TEST_SEED to reproduce)")
        var generator = SeededGenerator(seed: Self.seed)
        let levels: [Int32] = [-5, 1, 3, 9, 19]
        let compressors = try levels.map { try ZstdCompressor(level: $0) }
        let decompressor = try ZstdDecompressor()
        for index in 0..<60 {
            let size = index < 3 ? index : Int(generator.next() % (256 * 1024 + 1))
            let repetitive = generator.next() % 2 == 0
            let input = repetitive ? repetitiveBytes(size, &generator) : generator.bytes(size)
            let levelIndex = Int(generator.next() % UInt64(levels.count))
            let context =
                "case \(index): \(size) \(repetitive ? "repetitive" : "random") bytes at level "
                + "\(levels[levelIndex]), seed \(Self.seed)"

            let frame = try compressors[levelIndex].compress(input)
            let header = try Zstd.frameHeader(frame)
            #expect(header.contentSize == UInt64(input.count), "\(context)")
            #expect(header.hasChecksum, "\(context)")
            #expect(header.dictionaryID == nil, "\(context)")
            #expect(header.windowSize >= UInt64(min(input.count, 1 << 10)), "\(context)")
            #expect(try decompressor.decompress(frame, maxOutputSize: input.count) == input, "\(context)")
            #expect(try Zstd.decompress(frame, maxOutputSize: input.count + 1) == input, "\(context)")
            #expect(try Zstd.compress(input, level: levels[levelIndex]) == frame, "\(context)")
            if repetitive && size > 4_096 {
                #expect(frame.count < input.count / 2, "\(context)")
            }
        }
    }

    @Test func theRawBufferOverloadsMatchTheArrayOnes() throws {
        var generator = SeededGenerator(seed: Self.seed ^ 1)
        let input = repetitiveBytes(50_000, &generator)
        let compressor = try ZstdCompressor(level: 3)
        let frame = try input.withUnsafeBytes { try compressor.compress($0) }
        #expect(frame == (try compressor.compress(input)))
        let decompressor = try ZstdDecompressor()
        let output = try frame.withUnsafeBytes { try decompressor.decompress($0, maxOutputSize: input.count) }
        #expect(output == input)
        let empty = try compressor.compress(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(try Zstd.frameHeader(empty).contentSize == 0)
    }

    @Test func aFrameOfAMultiBlockInputKeepsItsHeaderFields() throws {
        var generator = SeededGenerator(seed: Self.seed ^ 2)
        let input = repetitiveBytes(3 << 20, &generator)
        let frame = try Zstd.compress(input, level: 1)
        let header = try Zstd.frameHeader(frame)
        #expect(header.contentSize == UInt64(input.count))
        #expect(header.hasChecksum)
        #expect(header.windowSize >= 1 << 17)
        #expect(try Zstd.decompress(frame, maxOutputSize: input.count) == input)
    }
}
