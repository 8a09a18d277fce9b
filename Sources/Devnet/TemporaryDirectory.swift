import Foundation
import Synchronization

/// A fresh directory under the system temporary directory, removed by `remove()` or when the
/// value is deinitialised — unless it was kept (`keep()`, or `KEEP_TEST_DIRS` set), or it is an
/// existing directory the value only names.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The directory's path.
    public let path: String
    private let kept = Mutex(false)

    /// Creates `<tmp>/tributary-<prefix>-<random>`.
    public init(_ prefix: String = "test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/tributary-\(prefix)-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// An existing directory (created if missing), never removed by this value.
    public init(existing path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        kept.withLock { $0 = true }
    }

    /// Keeps the directory when the value goes (for inspection after a failure).
    public func keep() { kept.withLock { $0 = true } }

    /// A path inside the directory.
    public func appending(_ component: String) -> String { "\(path)/\(component)" }

    /// Deletes the directory and its contents.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    deinit {
        if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil, !kept.withLock({ $0 }) { remove() }
    }
}
