import Foundation

/// Locates the `tributary` executable built beside the test bundle, for integration tests that run
/// it as a real process.
public enum TributaryBinary {
    /// The path of the built `tributary` (the `TRIBUTARY_BINARY` environment variable overrides).
    public static var path: String {
        if let override = ProcessInfo.processInfo.environment["TRIBUTARY_BINARY"] { return override }
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner may live inside a `.xctest` bundle directory.
        if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("tributary").path
    }

    /// The fault suite's executable, `tributary-faults`, built beside `tributary`.
    public static var faultSuitePath: String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("tributary-faults").path
    }

    /// A process (not yet started) that runs `tributary` with `arguments` — under `ulimit -f` of
    /// `fileSizeLimit` bytes (rounded down to the shell's 512-byte blocks) when given, so no file it
    /// writes, its log included, may grow beyond that.
    public static func process(_ arguments: [String], fileSizeLimit: Int? = nil) -> Process {
        let process = Process()
        if let fileSizeLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -f \(fileSizeLimit / 512) && exec \"$0\" \"$@\"", path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
        }
        return process
    }

    /// Runs `tributary` with `arguments`.
    public static func run(_ arguments: [String]) throws -> CommandResult {
        try Command.run(path, arguments)
    }
}
