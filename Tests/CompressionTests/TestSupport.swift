import Foundation
import Testing

@testable import Compression

/// A temporary directory removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("compression-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}

/// What a finished process left behind.
struct ProcessOutcome {
    let status: Int32
    let standardOutput: String
    let standardError: String
}

/// Runs `executable` (looked up on PATH) with `arguments`, standard output and error captured through files
/// in `directory` so that large outputs cannot block the process.
@discardableResult
func run(_ executable: String, _ arguments: [String], in directory: URL) throws -> ProcessOutcome {
    let outputURL = directory.appendingPathComponent("stdout-\(UUID().uuidString)")
    let errorURL = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
    try Data().write(to: outputURL)
    try Data().write(to: errorURL)
    defer {
        try? FileManager.default.removeItem(at: outputURL)
        try? FileManager.default.removeItem(at: errorURL)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    process.currentDirectoryURL = directory
    let output = try FileHandle(forWritingTo: outputURL)
    let error = try FileHandle(forWritingTo: errorURL)
    defer {
        try? output.close()
        try? error.close()
    }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = error
    try process.run()
    process.waitUntilExit()
    return ProcessOutcome(
        status: process.terminationStatus,
        standardOutput: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
        standardError: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
}

/// Runs the `zstd` CLI and requires it to succeed.
@discardableResult
func zstdCLI(_ arguments: [String], in directory: URL) throws -> ProcessOutcome {
    let outcome = try run("zstd", arguments, in: directory)
    try #require(outcome.status == 0, "zstd \(arguments.joined(separator: " ")) failed: \(outcome.standardError)")
    return outcome
}

/// Runs a `/bin/sh` pipeline; `$1`, `$2`... are `arguments`.
func shell(_ script: String, _ arguments: [String], in directory: URL) throws {
    let outcome = try run("sh", ["-c", script, "sh"] + arguments, in: directory)
    try #require(outcome.status == 0, "sh -c '\(script)' failed: \(outcome.standardError)")
}

func write(_ bytes: [UInt8], to url: URL) throws {
    try Data(bytes).write(to: url)
}

func read(_ url: URL) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url))
}

/// SplitMix64: a small deterministic generator, so a printed seed reproduces a failing case.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < count {
                var word = next()
                let take = min(8, count - offset)
                withUnsafeBytes(of: &word) { wordBytes in
                    buffer.baseAddress!.advanced(by: offset).copyMemory(from: wordBytes.baseAddress!, byteCount: take)
                }
                offset += take
            }
        }
        return result
    }
}

/// Transaction-like records: a few fixed-layout fields from small ranges plus a random 64-byte "signature",
/// so a dictionary has structure to learn and the signature stays incompressible.
func transactionLikeRecord(_ generator: inout SeededGenerator) -> [UInt8] {
    var record: [UInt8] = Array("{\"rollup\":7,\"kind\":\"transfer\",\"nonce\":".utf8)
    record += Array(String(generator.next() % 10_000).utf8)
    record += Array(",\"from\":\"0x00000000000000000000000000000000000000".utf8)
    record += Array(String(format: "%02x", Int(generator.next() % 64)).utf8)
    record += Array("\",\"to\":\"0x00000000000000000000000000000000000000".utf8)
    record += Array(String(format: "%02x", Int(generator.next() % 64)).utf8)
    record += Array("\",\"fee\":".utf8) + Array(String(generator.next() % 100).utf8)
    record += Array(",\"amount\":".utf8) + Array(String(generator.next() % 1_000_000).utf8)
    record += Array(",\"sig\":\"".utf8) + generator.bytes(64).map { UInt8(ascii: "a") + $0 % 26 }
    record += Array("\"}".utf8)
    return record
}

/// Repetitive content: phrases from a small vocabulary with some random bytes mixed in.
func repetitiveBytes(_ count: Int, _ generator: inout SeededGenerator) -> [UInt8] {
    let phrases: [[UInt8]] = ["transfer ", "balance=", "0000", "rollup-7 ", "\n", "nonce:"].map { Array($0.utf8) }
    var result: [UInt8] = []
    result.reserveCapacity(count + 16)
    while result.count < count {
        if generator.next() % 16 == 0 {
            result.append(UInt8(truncatingIfNeeded: generator.next()))
        } else {
            result += phrases[Int(generator.next() % UInt64(phrases.count))]
        }
    }
    return Array(result.prefix(count))
}

/// A frame written by hand: one raw (uncompressed) block holding `content`, no checksum, and a header that
/// claims `claimedSize` in a 4-byte Frame_Content_Size field (or in 8 bytes when it does not fit).
func handMadeFrame(content: [UInt8], claimedSize: UInt64) -> [UInt8] {
    let wide = claimedSize > UInt64(UInt32.max)
    var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    frame.append(wide ? 0xC0 : 0x80)  // Frame_Content_Size in 8 or 4 bytes, not single segment, no checksum
    frame.append(0x58)  // Window_Descriptor: 2^(10 + 11) = 2 MiB
    let fieldSize = wide ? 8 : 4
    for index in 0..<fieldSize { frame.append(UInt8(truncatingIfNeeded: claimedSize >> (8 * UInt64(index)))) }
    let blockHeader = UInt32(content.count) << 3 | 1  // Last_Block, Raw_Block
    frame += [UInt8(blockHeader & 0xFF), UInt8(blockHeader >> 8 & 0xFF), UInt8(blockHeader >> 16 & 0xFF)]
    frame += content
    return frame
}
