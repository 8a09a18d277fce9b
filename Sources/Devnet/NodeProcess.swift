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
    public convenience init(
        _ arguments: [String], logPath: String? = nil, timeout: Double = 60, fileSizeLimit: Int? = nil
    ) throws {
        try self.init(
            process: TributaryBinary.process(arguments, fileSizeLimit: fileSizeLimit), logPath: logPath,
            timeout: timeout)
    }

    /// Runs `process` (not yet started) and waits up to `timeout` seconds for an `rpc: URL` line on
    /// its standard output. The wait polls with the time left, so it ends at the deadline also when
    /// the process prints nothing; a process that did not report in time is stopped and reaped.
    public init(process: Process, logPath: String? = nil, timeout: Double = 60) throws {
        self.process = process
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
        let fd = output.fileHandleForReading.fileDescriptor
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        var ended = "it closed its output"
        reading: while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                ended = "it printed no RPC address within \(timeout) seconds"
                break
            }
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(min(left, 1) * 1000) + 1)
            if polled < 0 {
                if errno == EINTR { continue }
                ended = "polling its output failed (errno \(errno))"
                break
            }
            if polled == 0 { continue }
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else {
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                // Nothing to read: the wait ends when the process has exited, else at the deadline.
                guard process.isRunning else { break reading }
                Thread.sleep(forTimeInterval: 0.01)
                continue
            }
            buffer.append(contentsOf: chunk[0..<count])
            let text = String(decoding: buffer, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("rpc: ") }) {
                url = String(line.dropFirst(5))
                return
            }
        }
        if !process.isRunning {
            process.waitUntilExit()
            ended = "it exited with status \(process.terminationStatus)"
        }
        if process.isRunning { process.terminate() }
        let grace = Date().addingTimeInterval(5)
        while process.isRunning, Date() < grace { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? errors?.close()
        throw NodeProcessError.noRPCAddress(ended, String(decoding: buffer, as: UTF8.self))
    }

    public enum NodeProcessError: Error, CustomStringConvertible {
        /// Why the wait ended, and what the process printed.
        case noRPCAddress(String, String)
        public var description: String {
            switch self {
            case .noRPCAddress(let why, let output):
                return "the daemon did not report its RPC address (\(why)); its output: \(output)"
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
