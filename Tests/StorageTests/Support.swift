import CLMDB
import Foundation
import Logging
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// UInt64 -> String, the usual shape of a height-indexed table.
enum Numbers: Table {
    static let name = "numbers"
    typealias Key = UInt64
    typealias Value = String
}

/// Bytes -> bytes.
enum Blobs: Table {
    static let name = "blobs"
    typealias Key = [UInt8]
    typealias Value = [UInt8]
}

/// String -> UInt32.
enum Counters: Table {
    static let name = "counters"
    typealias Key = String
    typealias Value = UInt32
}

/// Reads the `numbers` table with the wrong value type, to provoke decoding errors.
enum NumbersAsUInt32: Table {
    static let name = "numbers"
    typealias Key = UInt64
    typealias Value = UInt32
}

/// A log handler that keeps every record, for asserting on log output.
final class CapturedLogs: @unchecked Sendable {
    struct Record {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let lock = NSLock()
    private var storage: [Record] = []

    var records: [Record] { lock.withLock { storage } }

    func append(_ record: Record) { lock.withLock { storage.append(record) } }

    var logger: Logger {
        var logger = Logger(label: "storage-tests") { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            sink.append(
                Record(
                    level: event.level, message: event.message.description,
                    metadata: metadata.merging(event.metadata ?? [:]) { _, new in new }))
        }
    }
}

/// Lower-case hex of bytes.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Bytes of lower-case hex text; nil if malformed.
func unhex(_ text: Substring) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var index = 0
    while index < digits.count {
        guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
            return nil
        }
        out.append(byte)
        index += 2
    }
    return out
}

/// A child process started with fork(), talking to the parent over two pipes.
///
/// The child runs only C calls (LMDB, read, write, _exit): after fork() in a multi-threaded process, nothing else
/// is safe. It signals the parent by writing one byte and waits for the parent's byte before going on.
struct ForkedChild {
    let pid: pid_t
    private let toParent: Int32
    private let toChild: Int32

    /// Forks; the child runs `body`, which receives a function to signal the parent and one to wait for it, and
    /// must end by calling `_exit`.
    static func start(_ body: (_ signal: () -> Void, _ wait: () -> Void) -> Never) -> ForkedChild {
        var up: [Int32] = [0, 0]
        var down: [Int32] = [0, 0]
        precondition(pipe(&up) == 0 && pipe(&down) == 0, "pipe failed")
        let pid = fork()
        precondition(pid >= 0, "fork failed")
        if pid == 0 {
            close(up[0])
            close(down[1])
            let writeEnd = up[1]
            let readEnd = down[0]
            body(
                {
                    var byte: UInt8 = 1
                    _ = write(writeEnd, &byte, 1)
                },
                {
                    var byte: UInt8 = 0
                    _ = read(readEnd, &byte, 1)
                })
        }
        close(up[1])
        close(down[0])
        return ForkedChild(pid: pid, toParent: up[0], toChild: down[1])
    }

    /// Waits for the child's signal; false if it exited first.
    func waitForSignal() -> Bool {
        var byte: UInt8 = 0
        return read(toParent, &byte, 1) == 1
    }

    /// Lets the child go on.
    func release() {
        var byte: UInt8 = 1
        _ = write(toChild, &byte, 1)
    }

    /// Waits for the child to exit and returns its exit status (or 128 + signal).
    func join() -> Int32 {
        close(toChild)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        close(toParent)
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Opens an LMDB environment with the C API only, for forked children. Returns nil on failure.
func childOpenEnvironment(_ path: UnsafePointer<CChar>, readOnly: Bool) -> OpaquePointer? {
    var env: OpaquePointer?
    guard mdb_env_create(&env) == 0, let env else { return nil }
    mdb_env_set_maxdbs(env, 64)
    let flags = UInt32(MDB_NOTLS) | (readOnly ? UInt32(MDB_RDONLY) : 0)
    guard mdb_env_open(env, path, flags, 0o644) == 0 else { return nil }
    return env
}
