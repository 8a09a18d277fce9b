import Foundation

/// A fresh directory under the system temporary directory, removed by `remove()` or when the
/// value is deinitialised.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The directory's path.
    public let path: String

    /// Creates `<tmp>/tributary-<prefix>-<random>`.
    public init(_ prefix: String = "test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/tributary-\(prefix)-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func appending(_ component: String) -> String { "\(path)/\(component)" }

    /// Deletes the directory and its contents.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    deinit { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { remove() } }
}
