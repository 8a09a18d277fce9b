import Foundation
import Testing

@testable import Compression

/// Our frames against the real `zstd` CLI, in both directions.
@Suite struct CLIInteropTests {
    static func sampleInput() -> [UInt8] {
        var generator = SeededGenerator(seed: 0xC11)
        var input: [UInt8] = []
        while input.count < 300_000 { input += transactionLikeRecord(&generator) }
        return input
    }

    @Test(arguments: [Int32(1), 3, 19])
    func theCLIDecodesOurFrames(level: Int32) throws {
        let input = Self.sampleInput()
        let frame = try Zstd.compress(input, level: level)
        try withTemporaryDirectory { directory in
            try write(frame, to: directory.appendingPathComponent("batch.zst"))
            try zstdCLI(["-q", "-d", "batch.zst", "-o", "batch"], in: directory)
            #expect(try read(directory.appendingPathComponent("batch")) == input)
        }
    }

    @Test func theCLIListsOurChecksumAndDecompressedSize() throws {
        let input = Self.sampleInput()
        let frame = try Zstd.compress(input, level: 3)
        try withTemporaryDirectory { directory in
            try write(frame, to: directory.appendingPathComponent("batch.zst"))
            let listing = try zstdCLI(["-lv", "batch.zst"], in: directory).standardOutput
            let lines = listing.split(separator: "\n").map(String.init)

            #expect(lines.contains("# Zstandard Frames: 1"))
            let sizeLine = try #require(lines.first { $0.hasPrefix("Decompressed Size:") }, "listing: \(listing)")
            #expect(sizeLine.hasSuffix("(\(input.count) B)"))
            let storedChecksum = frame.suffix(4).reversed().map { String(format: "%02x", $0) }.joined()
            #expect(lines.contains("Check: XXH64 \(storedChecksum)"), "listing: \(listing)")
        }
    }

    @Test func theCLIDecodesOurFrameOfEmptyContent() throws {
        let frame = try Zstd.compress([])
        let header = try Zstd.frameHeader(frame)
        #expect(header.contentSize == 0)
        #expect(header.hasChecksum)
        #expect(try Zstd.decompress(frame, maxOutputSize: 0) == [])
        try withTemporaryDirectory { directory in
            try write(frame, to: directory.appendingPathComponent("empty.zst"))
            try zstdCLI(["-q", "-d", "empty.zst", "-o", "empty"], in: directory)
            #expect(try read(directory.appendingPathComponent("empty")) == [])
        }
    }

    @Test func weDecodeAFrameTheCLIWroteFromAFile() throws {
        let input = Self.sampleInput()
        try withTemporaryDirectory { directory in
            try write(input, to: directory.appendingPathComponent("batch"))
            try zstdCLI(["-q", "-19", "batch", "-o", "batch.zst"], in: directory)
            let frame = try read(directory.appendingPathComponent("batch.zst"))

            #expect(try Zstd.frameHeader(frame).contentSize == UInt64(input.count))
            #expect(try Zstd.decompress(frame, maxOutputSize: input.count) == input)
        }
    }

    @Test func weDecodeAFrameTheCLIWroteFromAPipe() throws {
        let input = Self.sampleInput()
        try withTemporaryDirectory { directory in
            try write(input, to: directory.appendingPathComponent("batch"))
            try shell("cat \"$1\" | zstd -q -c > \"$2\"", ["batch", "batch.zst"], in: directory)
            let frame = try read(directory.appendingPathComponent("batch.zst"))

            let header = try Zstd.frameHeader(frame)
            #expect(header.contentSize == nil)
            #expect(header.hasChecksum)
            #expect(try Zstd.decompress(frame, maxOutputSize: input.count) == input)
            #expect(try ZstdDecompressor().decompress(frame, maxOutputSize: input.count) == input)
        }
    }
}
