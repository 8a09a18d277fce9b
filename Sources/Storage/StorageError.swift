import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Errors of the storage layer.
///
/// LMDB's own failures keep LMDB's error code and text (`lmdb`); the other cases are the layer's rules. `isFatal`
/// tells a caller whether the store can still be used.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An LMDB call failed. `code` is LMDB's (or the system's errno) code, `message` is `mdb_strerror(code)` and
    /// `operation` names the call and, where there is one, the table.
    case lmdb(code: Int32, message: String, operation: String)
    /// A write transaction filled the memory map and the map may not grow further: it already has `mapSize` bytes
    /// and `Environment.Options.maxMapSize` is `maxMapSize`. `freeDiskBytes` is the free space on the store's file
    /// system when it could be read. Nothing of the transaction was written.
    case mapFullCannotGrow(mapSize: Int, maxMapSize: Int, path: String, freeDiskBytes: Int?)
    /// A write transaction could not reach the disk for lack of space: the file system holding `path` is full
    /// (`ENOSPC`, `EDQUOT`), or the data file reached the process's file-size limit (`EFBIG`; `fileSizeLimit` is
    /// that limit, `ulimit -f`, when it explains the failure). LMDB reports a short write as `EIO`; such an `EIO` is
    /// reported here when the free space or the limit explains it. `code` and `operation` are LMDB's. Nothing of the
    /// transaction was committed.
    case noSpace(path: String, operation: String, code: Int32, freeDiskBytes: Int?, fileSizeLimit: Int?)
    /// A transaction or cursor was used after the closure that received it returned.
    case transactionClosed
    /// A transaction (or `copy`, `stat`, `tableNames`) was started on a thread that is already inside a transaction
    /// of the same environment.
    case nestedTransaction
    /// A write was attempted through a read-only environment or a read transaction's cursor.
    case readOnly
    /// The stored bytes of `table` could not be decoded into the table's key or value type.
    case decoding(table: String, reason: String)
    /// A key has `size` bytes, more than LMDB's limit `maxKeySize` (`mdb_env_get_maxkeysize`).
    case keyTooLarge(size: Int, maxKeySize: Int)
    /// An `append` put's key does not sort after the last key of `table` (LMDB's `MDB_KEYEXIST` under `MDB_APPEND`).
    case appendOutOfOrder(table: String)
    /// `table` exists in this read transaction's snapshot, but another process created it after this environment
    /// was opened and the transaction had already read other tables, so it cannot open the table without
    /// changing its snapshot. Later transactions can read it.
    case tableUnavailable(table: String)

    /// Whether the store should be considered unusable: corruption, I/O failure, a full disk, or a map that cannot
    /// grow. Errors confined to one call (misuse, bad keys, decoding, a missing table) are not fatal.
    public var isFatal: Bool {
        switch self {
        case .lmdb(let code, _, _):
            switch code {
            case MDB_PANIC, MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_VERSION_MISMATCH, MDB_INVALID, EIO, ENOSPC, EROFS,
                EFBIG, EDQUOT:
                return true
            default:
                return false
            }
        case .mapFullCannotGrow, .noSpace:
            return true
        case .transactionClosed, .nestedTransaction, .readOnly, .decoding, .keyTooLarge, .appendOutOfOrder,
            .tableUnavailable:
            return false
        }
    }

    /// A message for operators: what failed and what to do about it.
    public var description: String {
        switch self {
        case .lmdb(let code, let message, let operation):
            let advice = Self.advice(for: code)
            return "\(operation) failed: \(message) (LMDB code \(code))" + (advice.isEmpty ? "" : "; \(advice)")
        case .mapFullCannotGrow(let mapSize, let maxMapSize, let path, let freeDiskBytes):
            let free = freeDiskBytes.map { "\(formatBytes($0)) free" } ?? "free space unknown"
            return "map full and could not grow: the map of \(path) is \(formatBytes(mapSize)) and "
                + "maxMapSize is \(formatBytes(maxMapSize)); \(free) on its file system. Raise "
                + "Environment.Options.maxMapSize (and make room on the disk for the data) or write less per "
                + "transaction"
        case .noSpace(let path, let operation, let code, let freeDiskBytes, let fileSizeLimit):
            let free = freeDiskBytes.map { "\(formatBytes($0)) free" } ?? "free space unknown"
            let cause = "\(operation): \(String(cString: mdb_strerror(code)))"
            if let fileSizeLimit {
                return "cannot write to \(path): its data file reached this process's file-size limit of "
                    + "\(formatBytes(fileSizeLimit)) (ulimit -f; \(cause)); \(free) on its file system. Nothing of the "
                    + "transaction was written. Raise the limit, or cap the map below it"
            }
            if code == EFBIG {
                return "cannot write to \(path): its data file is as large as its file system allows (\(cause)). "
                    + "Nothing of the transaction was written. Move the store to a file system that allows larger files"
            }
            return "cannot write to \(path): its file system is full (\(free); \(cause)). Nothing of the transaction "
                + "was written. Free space on the disk"
        case .transactionClosed:
            return "the transaction has ended: a transaction and its cursors may only be used inside the closure "
                + "that received them"
        case .nestedTransaction:
            return "this thread is already inside a transaction of this environment: pass that transaction down "
                + "instead of starting another one"
        case .readOnly:
            return "cannot write: the environment was opened read-only or this is a read transaction; open the "
                + "environment without readOnly and use Environment.write"
        case .decoding(let table, let reason):
            return "cannot decode an entry of table '\(table)': \(reason)"
        case .keyTooLarge(let size, let maxKeySize):
            return "a key of \(size) bytes exceeds LMDB's maximum key size of \(maxKeySize) bytes: hash or shorten "
                + "long keys"
        case .appendOutOfOrder(let table):
            return "append into table '\(table)' needs a key greater than the table's last key: put without append, "
                + "or write keys in ascending order"
        case .tableUnavailable(let table):
            return "table '\(table)' was created by another process while this read transaction was under way: "
                + "run the transaction again"
        }
    }

    private static func advice(for code: Int32) -> String {
        switch code {
        case MDB_DBS_FULL: return "raise Environment.Options.maxTables"
        case MDB_READERS_FULL:
            return "raise Environment.Options.maxReaders or end long-lived read transactions"
        case MDB_TXN_FULL: return "split the write into smaller transactions"
        case MDB_BAD_VALSIZE: return "keys must be 1 byte up to the maximum key size long"
        case MDB_INCOMPATIBLE: return "the table was created with other flags by another program"
        case MDB_VERSION_MISMATCH, MDB_INVALID:
            return "the directory does not hold an LMDB environment of a compatible version"
        case MDB_CORRUPTED, MDB_PANIC, MDB_PAGE_NOTFOUND:
            return "the store is damaged: stop the process and restore it from a copy"
        case ENOENT: return "the directory does not exist (read-only environments are never created)"
        case EACCES, EPERM: return "check the permissions of the directory and its files"
        case EEXIST: return "the target already holds a data file: copy into an empty directory"
        case ENOSPC, EDQUOT: return "the disk is full: free space and restart"
        case EFBIG: return "a file reached its size limit (ulimit -f, or the file system's): raise it and restart"
        case EAGAIN, EBUSY: return "another process holds the store in a way that prevents this"
        default: return ""
        }
    }

    /// The fatal storage error `error` is, or nil: a process should stop on it rather than retry.
    public static func fatal(_ error: any Error) -> StorageError? {
        guard let storage = error as? StorageError, storage.isFatal else { return nil }
        return storage
    }

    static func lmdbError(_ code: Int32, _ operation: @autoclosure () -> String) -> StorageError {
        .lmdb(code: code, message: String(cString: mdb_strerror(code)), operation: operation())
    }
}

/// Formats a byte count with a binary unit, e.g. `3.1 GiB`.
public func formatBytes(_ count: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(count) B" }
    let tenths = (value * 10).rounded() / 10
    return "\(tenths) \(units[unit])"
}

/// A process stopped because its store failed fatally (`StorageError.isFatal`): full, at its map cap, or damaged.
///
/// Whatever the process had not committed when `error` happened was neither written nor acknowledged; LMDB
/// transactions are atomic, so the store holds exactly the commits before it.
public struct StorageStop: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var error: StorageError
    /// The store's directory.
    public var path: String
    /// The newest height the process had committed (a block, or an L1 block), nil if it could not be read.
    public var lastCommitted: UInt64?

    public init(error: StorageError, path: String, lastCommitted: UInt64?) {
        self.error = error
        self.path = path
        self.lastCommitted = lastCommitted
    }

    public var description: String {
        "\(error)" + (lastCommitted.map { "; the last committed height is \($0)" } ?? "")
    }
}
