import CLMDB

/// A position in a table, moved in key order; valid inside the closure passed to `ReadTransaction.cursor`.
///
/// Every move returns the entry it lands on, or nil when there is none. A cursor starts unpositioned: `next()`
/// then goes to the first entry and `previous()` to the last. Moving past either end returns nil and stays
/// there, so the opposite move comes back to the end entry. Over a table that does not exist every move returns
/// nil. Using the cursor after its closure (or its transaction's) returned throws
/// `StorageError.transactionClosed`.
public final class Cursor<T: Table> {
    private enum Position {
        case unpositioned, onEntry, pastEnd, beforeStart
        /// `deleteCurrent` removed the entry the cursor was on; LMDB left it on the entry that followed.
        case deleted
    }

    private let transaction: ReadTransaction
    private var cursor: OpaquePointer?
    private var isClosed = false
    private var position = Position.unpositioned

    init(transaction: ReadTransaction, cursor: OpaquePointer?) {
        self.transaction = transaction
        self.cursor = cursor
    }

    /// Moves to the first entry.
    public func first() throws -> (key: T.Key, value: T.Value)? {
        try move(MDB_FIRST, notFound: .unpositioned)
    }

    /// Moves to the last entry.
    public func last() throws -> (key: T.Key, value: T.Value)? {
        try move(MDB_LAST, notFound: .unpositioned)
    }

    /// Moves to the following entry; from an unpositioned cursor, to the first.
    public func next() throws -> (key: T.Key, value: T.Value)? {
        switch position {
        case .unpositioned, .beforeStart: return try first()
        case .pastEnd:
            _ = try live()
            return nil
        case .onEntry, .deleted: return try move(MDB_NEXT, notFound: .pastEnd)
        }
    }

    /// Moves to the preceding entry; from an unpositioned cursor, to the last.
    public func previous() throws -> (key: T.Key, value: T.Value)? {
        switch position {
        case .unpositioned, .pastEnd: return try last()
        case .beforeStart:
            _ = try live()
            return nil
        case .onEntry, .deleted: return try move(MDB_PREV, notFound: .beforeStart)
        }
    }

    /// Moves to the first entry whose key is >= `key`; when every key is smaller, returns nil and the cursor is
    /// past the end (so `previous()` gives the last entry, the greatest key < `key`).
    public func seek(_ key: T.Key) throws -> (key: T.Key, value: T.Value)? {
        guard try live() != nil else { return nil }
        return try transaction.withKeyValue(key) { key in
            guard key.mv_size > 0 else { return try first() }
            return try move(MDB_SET_RANGE, key: key, notFound: .pastEnd)
        }
    }

    /// Moves to the entry with exactly `key`; if there is none, returns nil and the cursor is unpositioned.
    public func seekExact(_ key: T.Key) throws -> (key: T.Key, value: T.Value)? {
        guard try live() != nil else { return nil }
        return try transaction.withKeyValue(key) { key in
            guard key.mv_size > 0 else {
                position = .unpositioned
                return nil
            }
            return try move(MDB_SET_KEY, key: key, notFound: .unpositioned)
        }
    }

    /// The entry the cursor is on, or nil if it is not on one (unpositioned, past an end, or after
    /// `deleteCurrent`).
    public var current: (key: T.Key, value: T.Value)? {
        get throws {
            guard position == .onEntry else {
                _ = try live()
                return nil
            }
            return try move(MDB_GET_CURRENT, notFound: .unpositioned)
        }
    }

    /// Deletes the entry the cursor is on and returns true; returns false if it is not on one.
    ///
    /// Afterwards `next()` returns the entry that followed the deleted one and `previous()` the one before it,
    /// so deleting while iterating forward visits every entry once. Throws `StorageError.readOnly` in a read
    /// transaction.
    @discardableResult
    public func deleteCurrent() throws -> Bool {
        let live = try live()
        guard transaction.isWrite else { throw StorageError.readOnly }
        guard let live, position == .onEntry else { return false }
        let rc = mdb_cursor_del(live, 0)
        if rc != 0 { try transaction.fail(rc, "mdb_cursor_del(\(T.name))") }
        position = .deleted
        return true
    }

    func close() {
        if let cursor { mdb_cursor_close(cursor) }
        cursor = nil
        isClosed = true
    }

    private func live() throws -> OpaquePointer? {
        guard !isClosed, transaction.handle != nil else { throw StorageError.transactionClosed }
        return cursor
    }

    private func move(
        _ op: MDB_cursor_op, key: MDB_val? = nil, notFound: Position
    ) throws -> (key: T.Key, value: T.Value)? {
        guard let cursor = try live() else { return nil }
        var keyValue = key ?? MDB_val()
        var dataValue = MDB_val()
        let rc = mdb_cursor_get(cursor, &keyValue, &dataValue, op)
        if rc == MDB_NOTFOUND {
            position = notFound
            return nil
        }
        if rc != 0 { try transaction.fail(rc, "mdb_cursor_get(\(T.name))") }
        position = .onEntry
        return (
            try transaction.decode(T.self, T.Key.self, keyValue),
            try transaction.decode(T.self, T.Value.self, dataValue)
        )
    }
}
