import CLMDB

/// What the storage layer can fail with.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// LMDB returned an error: its code, `mdb_strerror`'s text and the call that failed.
    case lmdb(code: Int32, message: String, operation: String)
    /// The map is full and may not grow further (or the disk has no room for it).
    case mapFullCannotGrow(mapSize: Int, maxMapSize: Int, path: String, freeDiskBytes: Int?)
    /// The transaction (or a cursor of it) was used after its closure returned.
    case transactionClosed
    /// A transaction was started inside another one on the same thread.
    case nestedTransaction
    /// A write was attempted on an environment opened read-only.
    case readOnly
    /// Stored bytes do not decode as the table's key or value type.
    case decoding(table: String, reason: String)
    /// A key is longer than LMDB allows.
    case keyTooLarge(size: Int, maxKeySize: Int)
    /// An appending put named a key that is not greater than the table's last key.
    case appendOutOfOrder(table: String)

    public var description: String {
        switch self {
        case .lmdb(let code, let message, let operation):
            return "LMDB error in \(operation): \(message) (code \(code))"
        case .mapFullCannotGrow(let mapSize, let maxMapSize, let path, let free):
            let freeText = free.map { "\(formatBytes($0)) free on the disk of \(path)" } ?? "free disk space unknown"
            return "LMDB map full and it cannot grow: the map is \(formatBytes(mapSize)), the limit is "
                + "\(formatBytes(maxMapSize)), \(freeText); free disk space or raise the map limit"
        case .transactionClosed:
            return "a transaction or cursor was used after its closure returned"
        case .nestedTransaction:
            return "a transaction was started inside another on the same thread; finish the first one"
        case .readOnly:
            return "the store was opened read-only; writes are not allowed"
        case .decoding(let table, let reason):
            return "cannot decode a stored entry\(table.isEmpty ? "" : " of table \(table)"): \(reason)"
        case .keyTooLarge(let size, let max):
            return "key of \(size) bytes exceeds LMDB's maximum of \(max)"
        case .appendOutOfOrder(let table):
            return "append to table \(table) with a key not greater than its last key"
        }
    }

    /// Whether the store can no longer be trusted or written: the process should stop cleanly and
    /// the operator act (corruption, version mismatch, a full disk).
    public var isFatal: Bool {
        switch self {
        case .lmdb(let code, _, _):
            return code == MDB_CORRUPTED || code == MDB_PANIC || code == MDB_VERSION_MISMATCH
                || code == MDB_INVALID || code == 5 /* EIO */ || code == 28 /* ENOSPC */
        case .mapFullCannotGrow:
            return true
        default:
            return false
        }
    }

    static func check(_ rc: Int32, _ operation: String) throws {
        guard rc != 0 else { return }
        throw StorageError.lmdb(code: rc, message: String(cString: mdb_strerror(rc)), operation: operation)
    }
}

/// `1.5 GiB`-style byte counts.
func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
}
