import Foundation

/// The result of running an external program.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: String

    /// Standard output as UTF-8 text.
    public var output: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs real external programs (lmdb-utils, the zstd CLI, the built `tributary`) from tests.
public enum Command {
    /// Runs `program` (looked up on PATH) with `arguments`, feeding `input` to its standard input.
    public static func run(_ program: String, _ arguments: [String], input: [UInt8]? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            DispatchQueue.global().async {
                inPipe.fileHandleForWriting.write(Data(input))
                try? inPipe.fileHandleForWriting.close()
            }
        }
        // Drain stderr concurrently so a chatty program cannot block on a full pipe.
        let errData = LockedBox(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.value = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: Array(stdout),
            stderr: String(decoding: errData.value, as: UTF8.self))
    }

    /// Runs a shell pipeline with `/bin/sh -c`.
    public static func shell(_ script: String) throws -> CommandResult {
        try run("sh", ["-c", script])
    }
}

/// A value shared between threads, guarded by a lock.
public final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    public init(_ value: T) { stored = value }
    public var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
