import Foundation

/// A `tributary` daemon started as a real process for integration tests: it learns the RPC URL
/// from the daemon's `rpc: URL` line and can stop it gracefully or kill it.
public final class NodeProcess: @unchecked Sendable {
    public let process: Process
    public private(set) var url = ""
    private let output = Pipe()
    private let errors: FileHandle?

    /// Starts `tributary` with `arguments` (e.g. `node --rollup alpha --datadir D --rpc-port 0`) and
    /// waits up to `timeout` seconds for its RPC URL. Standard error goes to `logPath` if given.
    /// With `fileSizeLimit`, the daemon runs under `ulimit -f` of that many bytes (rounded down to
    /// the shell's 512-byte blocks): no file it writes, its log included, may grow beyond it.
    public init(_ arguments: [String], logPath: String? = nil, timeout: Double = 60, fileSizeLimit: Int? = nil) throws {
        process = TributaryBinary.process(arguments, fileSizeLimit: fileSizeLimit)
        process.standardOutput = output
        if let logPath {
            FileManager.default.createFile(atPath: logPath, contents: nil)
            errors = FileHandle(forWritingAtPath: logPath)
            process.standardError = errors
        } else {
            errors = nil
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = Data()
        let handle = output.fileHandleForReading
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard process.isRunning else { break }
                continue
            }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("rpc: ") }) {
                url = String(line.dropFirst(5))
                return
            }
        }
        process.terminate()
        throw NodeProcessError.noRPCAddress(String(decoding: buffer, as: UTF8.self))
    }

    public enum NodeProcessError: Error, CustomStringConvertible {
        case noRPCAddress(String)
        public var description: String {
            switch self {
            case .noRPCAddress(let output): return "the daemon did not report its RPC address; its output: \(output)"
            }
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? errors?.close()
        return process.terminationStatus
    }

    /// Waits up to `timeout` seconds for the daemon to exit by itself; returns its exit status, or nil
    /// if it is still running.
    public func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        try? errors?.close()
        return process.terminationStatus
    }

    /// SIGKILL: no cleanup, no flush.
    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? errors?.close()
    }

    deinit { if process.isRunning { kill() } }
}
