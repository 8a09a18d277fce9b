import Foundation
import Testing

@testable import Compression

/// Blobs from untrusted peers: bombs, malformed frames and damaged frames, each with its own error.
@Suite struct HostileInputTests {
    static let oneMiB = 1 << 20
    /// `ZSTD_error_checksum_wrong` and `ZSTD_error_frameParameter_unsupported`, stable codes of zstd_errors.h.
    static let checksumWrong = 22
    static let frameParameterUnsupported = 14

    static func goodFrame() throws -> (input: [UInt8], frame: [UInt8]) {
        var generator = SeededGenerator(seed: 0xBAD)
        let input = repetitiveBytes(20_000, &generator)
        return (input, try Zstd.compress(input, level: 3))
    }

    @Test func aFrameWithoutContentSizeInflatingPastTheLimitIsAbandoned() throws {
        try withTemporaryDirectory { directory in
            try shell("head -c 67108864 /dev/zero | zstd -q -c > \"$1\"", ["zeros.zst"], in: directory)
            let frame = try read(directory.appendingPathComponent("zeros.zst"))
            #expect(frame.count < 16_384)
            #expect(try Zstd.frameHeader(frame).contentSize == nil)

            #expect(throws: CompressionError.outputExceedsLimit(limit: Self.oneMiB)) {
                _ = try Zstd.decompress(frame, maxOutputSize: Self.oneMiB)
            }
            let decompressor = try ZstdDecompressor()
            #expect(throws: CompressionError.outputExceedsLimit(limit: Self.oneMiB)) {
                _ = try decompressor.decompress(frame, maxOutputSize: Self.oneMiB)
            }
        }
    }

    @Test func theLimitIncludesContentOfExactlyItsSize() throws {
        let size = 2 * Self.oneMiB + 123
        try withTemporaryDirectory { directory in
            try shell("head -c \(size) /dev/zero | zstd -q -c > \"$1\"", ["zeros.zst"], in: directory)
            let piped = try read(directory.appendingPathComponent("zeros.zst"))
            #expect(try Zstd.frameHeader(piped).contentSize == nil)
            #expect(try Zstd.decompress(piped, maxOutputSize: size) == [UInt8](repeating: 0, count: size))
            #expect(throws: CompressionError.outputExceedsLimit(limit: size - 1)) {
                _ = try Zstd.decompress(piped, maxOutputSize: size - 1)
            }
        }
        let ours = try Zstd.compress([UInt8](repeating: 7, count: size))
        #expect(try Zstd.decompress(ours, maxOutputSize: size).count == size)
        #expect(throws: CompressionError.contentSizeExceedsLimit(claimed: UInt64(size), limit: size - 1)) {
            _ = try Zstd.decompress(ours, maxOutputSize: size - 1)
        }
    }

    @Test func aHeaderClaimingOneGiBIsRefusedBeforeDecompressing() throws {
        let frame = handMadeFrame(content: Array("tiny".utf8), claimedSize: 1 << 30)
        #expect(try Zstd.frameHeader(frame).contentSize == 1 << 30)
        #expect(throws: CompressionError.contentSizeExceedsLimit(claimed: 1 << 30, limit: Self.oneMiB)) {
            _ = try Zstd.decompress(frame, maxOutputSize: Self.oneMiB)
        }
        let huge = handMadeFrame(content: Array("tiny".utf8), claimedSize: UInt64.max)
        #expect(throws: CompressionError.contentSizeExceedsLimit(claimed: UInt64.max, limit: Int.max)) {
            _ = try Zstd.decompress(huge, maxOutputSize: Int.max)
        }
    }

    @Test func aHeaderClaimingAWrongContentSizeIsReportedWithBothSizes() throws {
        let content = Array("twenty bytes of data".utf8)
        #expect(try Zstd.decompress(handMadeFrame(content: content, claimedSize: 20), maxOutputSize: 100) == content)
        #expect(throws: CompressionError.contentSizeMismatch(claimed: 30, actual: 20)) {
            _ = try Zstd.decompress(handMadeFrame(content: content, claimedSize: 30), maxOutputSize: 100)
        }
        #expect(throws: CompressionError.contentSizeMismatch(claimed: 10, actual: 20)) {
            _ = try Zstd.decompress(handMadeFrame(content: content, claimedSize: 10), maxOutputSize: 100)
        }
    }

    @Test func twoConcatenatedFramesAreRejected() throws {
        let (_, frame) = try Self.goodFrame()
        let second = try Zstd.compress([1, 2, 3])
        #expect(throws: CompressionError.trailingData(frameSize: frame.count, inputSize: frame.count + second.count)) {
            _ = try Zstd.decompress(frame + second, maxOutputSize: Self.oneMiB)
        }
    }

    @Test func aTrailingByteIsRejected() throws {
        let (_, frame) = try Self.goodFrame()
        #expect(throws: CompressionError.trailingData(frameSize: frame.count, inputSize: frame.count + 1)) {
            _ = try Zstd.decompress(frame + [0], maxOutputSize: Self.oneMiB)
        }
    }

    @Test func aTruncatedFrameIsRejected() throws {
        let (_, frame) = try Self.goodFrame()
        for length in [5, 7, frame.count / 2, frame.count - 4, frame.count - 1] {
            #expect(throws: CompressionError.truncatedFrame, "cut to \(length) bytes") {
                _ = try Zstd.decompress(Array(frame.prefix(length)), maxOutputSize: Self.oneMiB)
            }
        }
    }

    @Test func aDamagedChecksumIsReportedByZstd() throws {
        var (_, frame) = try Self.goodFrame()
        frame[frame.count - 1] ^= 0x01
        let error = #expect(throws: CompressionError.self) {
            _ = try Zstd.decompress(frame, maxOutputSize: Self.oneMiB)
        }
        #expect(error == .zstd(code: Self.checksumWrong, name: "Restored data doesn't match checksum"))
        #expect(error?.description.contains("checksum") == true)
    }

    @Test func aFlippedPayloadByteIsReportedByZstd() throws {
        let (_, frame) = try Self.goodFrame()
        let headerSize = try frame.withUnsafeBytes { try FrameLayout(parsing: $0).headerSize }
        let blockHeaderSize = 3
        let payload = (headerSize + blockHeaderSize)..<(frame.count - 4)
        #expect(frame.count > 100)
        for offset in [payload.lowerBound + 40, payload.lowerBound + payload.count / 2, payload.upperBound - 20] {
            var damaged = frame
            damaged[offset] ^= 0x20
            let error = #expect(throws: CompressionError.self, "flipped byte \(offset)") {
                _ = try Zstd.decompress(damaged, maxOutputSize: Self.oneMiB)
            }
            guard case .zstd(let code, let name) = error else {
                Issue.record("expected a zstd error for byte \(offset), got \(String(describing: error))")
                continue
            }
            #expect(code != 0)
            #expect(!name.isEmpty)
        }
    }

    @Test func randomBytesAreNotAFrame() throws {
        var generator = SeededGenerator(seed: 0x5EED)
        for count in [1, 3, 4, 100, 10_000] {
            var bytes = generator.bytes(count)
            if count >= 4 && bytes[0...3] == [0x28, 0xB5, 0x2F, 0xFD] { bytes[0] = 0 }
            #expect(throws: CompressionError.notAFrame) { _ = try Zstd.decompress(bytes, maxOutputSize: Self.oneMiB) }
        }
    }

    @Test func emptyInputIsNotAFrame() throws {
        #expect(throws: CompressionError.notAFrame) { _ = try Zstd.decompress([], maxOutputSize: Self.oneMiB) }
        #expect(throws: CompressionError.notAFrame) { try Zstd.frameHeader([]) }
    }

    @Test func aSkippableFrameIsNotAFrame() throws {
        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]
        #expect(throws: CompressionError.notAFrame) { _ = try Zstd.decompress(skippable, maxOutputSize: Self.oneMiB) }
        let (_, frame) = try Self.goodFrame()
        #expect(throws: CompressionError.trailingData(frameSize: frame.count, inputSize: frame.count + 12)) {
            _ = try Zstd.decompress(frame + skippable, maxOutputSize: Self.oneMiB)
        }
    }

    @Test func aHeaderWithItsReservedBitSetIsRejected() throws {
        var (_, frame) = try Self.goodFrame()
        frame[4] |= 0x08
        let expected = CompressionError.zstd(code: Self.frameParameterUnsupported, name: "Unsupported frame parameter")
        #expect(throws: expected) { try Zstd.frameHeader(frame) }
        #expect(throws: expected) { _ = try Zstd.decompress(frame, maxOutputSize: Self.oneMiB) }
    }

    @Test func levelsOutsideZstdsRangeAreRejected() throws {
        let tooHigh = Zstd.levels.upperBound + 1
        #expect(throws: CompressionError.invalidLevel(tooHigh, allowed: Zstd.levels)) {
            try Zstd.compress([1], level: tooHigh)
        }
        #expect(throws: CompressionError.invalidLevel(Int32.min, allowed: Zstd.levels)) {
            try ZstdCompressor(level: Int32.min)
        }
        #expect(Zstd.levels.contains(1) && Zstd.levels.contains(19) && Zstd.levels.contains(-1))
    }

    @Test func aDecompressorStaysUsableAfterFailures() throws {
        let (input, frame) = try Self.goodFrame()
        var damaged = frame
        damaged[frame.count / 2] ^= 0xFF
        let decompressor = try ZstdDecompressor()
        for bad in [damaged, Array(frame.prefix(frame.count - 1)), frame + [0], []] {
            #expect(throws: CompressionError.self) { _ = try decompressor.decompress(bad, maxOutputSize: Self.oneMiB) }
            #expect(try decompressor.decompress(frame, maxOutputSize: input.count) == input)
        }
    }
}
