import CLMDB

/// A read-only snapshot of the store, valid only inside the `Environment.read` (or `write`)
/// closure that handed it out.
public class ReadTransaction {
    let environment: Environment
    private var txn: OpaquePointer?
    private var holdsTableLock = false
    /// Tables opened by this transaction, cached for the process once it commits.
    private var opened: [String: MDB_dbi] = [:]
    private var cursors: [CursorBox] = []
    let readOnly: Bool

    init(environment: Environment, handle: OpaquePointer, readOnly: Bool = true) {
        self.environment = environment
        self.txn = handle
        self.readOnly = readOnly
    }

    func handle() throws -> OpaquePointer {
        guard let txn else { throw StorageError.transactionClosed }
        return txn
    }

    /// Commits or aborts, then invalidates the transaction and its cursors.
    func finish(commit: Bool) throws {
        guard let txn else { return }
        for box in cursors { box.close() }
        cursors.removeAll()
        self.txn = nil
        defer {
            if holdsTableLock {
                holdsTableLock = false
                environment.unlockTableOpening()
            }
        }
        if commit {
            try StorageError.check(mdb_txn_commit(txn), "mdb_txn_commit")
            if !opened.isEmpty { environment.cacheDBIs(opened) }
        } else {
            mdb_txn_abort(txn)
        }
    }

    /// The handle of table `name`; nil when it does not exist and `create` is false.
    func dbi(_ name: String, create: Bool) throws -> MDB_dbi? {
        let txn = try handle()
        if let dbi = opened[name] ?? environment.cachedDBI(name) { return dbi }
        if !holdsTableLock {
            environment.lockTableOpening()
            holdsTableLock = true
        }
        if let dbi = environment.cachedDBI(name) { return dbi }
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try checkWrite(rc, "mdb_dbi_open \(name)")
        opened[name] = dbi
        return dbi
    }

    /// Like `StorageError.check`, and remembers a full map so `write` grows it and retries even if
    /// the caller swallowed the error.
    func checkWrite(_ rc: Int32, _ operation: String) throws {
        if rc == MDB_MAP_FULL { (self as? WriteTransaction)?.hitMapFull = true }
        try StorageError.check(rc, operation)
    }

    func withKey<K: StorageCodable, R>(_ key: K, _ body: (inout MDB_val) throws -> R) throws -> R {
        try key.withStorageBytes { raw in
            guard raw.count <= environment.maxKeySize else {
                throw StorageError.keyTooLarge(size: raw.count, maxKeySize: environment.maxKeySize)
            }
            var val = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
            return try body(&val)
        }
    }

    static func decode<V: StorageCodable>(_ type: V.Type, _ val: MDB_val, table: String) throws -> V {
        do {
            return try V(storageBytes: UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size))
        } catch let StorageError.decoding(_, reason) {
            throw StorageError.decoding(table: table, reason: reason)
        } catch {
            throw StorageError.decoding(table: table, reason: "\(error)")
        }
    }

    // MARK: Reads

    /// The value stored under `key`, or nil.
    public func get<T: Table>(_ table: T.Type, _ key: T.Key) throws -> T.Value? {
        try withValueBytes(table, key) { raw in
            do { return try T.Value(storageBytes: raw) } catch let StorageError.decoding(_, reason) {
                throw StorageError.decoding(table: T.name, reason: reason)
            } catch { throw StorageError.decoding(table: T.name, reason: "\(error)") }
        }
    }

    /// Calls `body` with the stored bytes of `key`'s value without copying them (they are valid
    /// only during the call); nil when the key is absent.
    public func withValueBytes<T: Table, R>(
        _ table: T.Type, _ key: T.Key, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        let txn = try handle()
        guard let dbi = try dbi(T.name, create: false) else { return nil }
        return try withKey(key) { k -> R? in
            var v = MDB_val()
            let rc = mdb_get(txn, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try StorageError.check(rc, "mdb_get \(T.name)")
            return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    /// Whether `key` is present.
    public func contains<T: Table>(_ table: T.Type, _ key: T.Key) throws -> Bool {
        try withValueBytes(table, key) { _ in true } ?? false
    }

    /// The number of entries in the table (0 when it does not exist).
    public func count<T: Table>(_ table: T.Type) throws -> Int {
        guard let dbi = try dbi(T.name, create: false) else { return 0 }
        var s = MDB_stat()
        try StorageError.check(mdb_stat(try handle(), dbi, &s), "mdb_stat \(T.name)")
        return s.ms_entries
    }

    /// Runs `body` with a cursor over the table; the cursor is invalid after `body` returns. For a
    /// table that does not exist, the cursor finds nothing.
    public func cursor<T: Table, R>(_ table: T.Type, _ body: (Cursor<T>) throws -> R) throws -> R {
        let box = try openCursor(T.name, create: false)
        defer { box.close() }
        return try body(Cursor<T>(box: box, transaction: self))
    }

    func openCursor(_ name: String, create: Bool) throws -> CursorBox {
        let txn = try handle()
        guard let dbi = try dbi(name, create: create) else { return CursorBox(cursor: nil) }
        var cursor: OpaquePointer?
        try StorageError.check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open \(name)")
        let box = CursorBox(cursor: cursor)
        cursors.append(box)
        return box
    }

    /// Visits entries in key order: forward from the first key `>= from` (or the first key), or in
    /// reverse from the last key `<= from` (or the last key). `body` returns false to stop.
    public func forEach<T: Table>(
        _ table: T.Type, from: T.Key? = nil, reverse: Bool = false, _ body: (T.Key, T.Value) throws -> Bool
    ) throws {
        let box = try openCursor(T.name, create: false)
        defer { box.close() }
        guard let cursor = box.cursor else { return }
        var k = MDB_val(), v = MDB_val()
        var rc: Int32
        if let from {
            rc = try withKey(from) { key in
                var rc = mdb_cursor_get(cursor, &key, &v, MDB_SET_RANGE)
                k = key
                if reverse {
                    if rc == MDB_NOTFOUND {
                        rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
                    } else if rc == 0 {
                        let exact = from.withStorageBytes { f in
                            UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size).elementsEqual(f)
                        }
                        if !exact { rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV) }
                    }
                }
                return rc
            }
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_LAST : MDB_FIRST)
        }
        while rc == 0 {
            guard
                try body(try Self.decode(T.Key.self, k, table: T.name), try Self.decode(T.Value.self, v, table: T.name))
            else {
                return
            }
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try StorageError.check(rc, "mdb_cursor_get \(T.name)") }
    }

    /// Visits, in key order (or reverse), every entry whose key bytes start with `prefix`.
    public func forEach<T: Table>(
        _ table: T.Type, prefix: [UInt8], reverse: Bool = false, _ body: (T.Key, T.Value) throws -> Bool
    ) throws {
        try rawScan(T.name, prefix: prefix, reverse: reverse) { k, v in
            try body(try Self.decode(T.Key.self, k, table: T.name), try Self.decode(T.Value.self, v, table: T.name))
        }
    }

    private func rawScan(_ name: String, prefix: [UInt8], reverse: Bool, _ body: (MDB_val, MDB_val) throws -> Bool)
        throws
    {
        let box = try openCursor(name, create: false)
        defer { box.close() }
        guard let cursor = box.cursor else { return }
        var k = MDB_val(), v = MDB_val()
        var rc: Int32
        func start(_ bytes: [UInt8]) throws -> Int32 {
            try withKey(bytes) { key in
                let rc = mdb_cursor_get(cursor, &key, &v, MDB_SET_RANGE)
                k = key
                return rc
            }
        }
        if !reverse {
            rc = prefix.isEmpty ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST) : try start(prefix)
        } else if let successor = Self.successor(of: prefix) {
            rc = try start(successor)
            rc = rc == 0 ? mdb_cursor_get(cursor, &k, &v, MDB_PREV) : mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        }
        while rc == 0 {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            guard key.starts(with: prefix) else { return }
            guard try body(k, v) else { return }
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try StorageError.check(rc, "mdb_cursor_get \(name)") }
    }

    /// The smallest byte string greater than every string starting with `prefix`; nil if none.
    static func successor(of prefix: [UInt8]) -> [UInt8]? {
        var s = prefix
        while let last = s.last {
            if last < 0xff {
                s[s.count - 1] = last + 1
                return s
            }
            s.removeLast()
        }
        return nil
    }

    // MARK: Untyped access for operator tools

    /// The raw value under raw `key` in table `table`, or nil.
    public func rawGet(table: String, key: [UInt8]) throws -> [UInt8]? {
        let txn = try handle()
        guard let dbi = try dbi(table, create: false) else { return nil }
        return try withKey(key) { k -> [UInt8]? in
            var v = MDB_val()
            let rc = mdb_get(txn, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try StorageError.check(rc, "mdb_get \(table)")
            return Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    /// Visits raw entries of table `table` in order (see the typed `forEach(_:from:reverse:_:)`).
    public func rawForEach(table: String, from: [UInt8]?, reverse: Bool, _ body: ([UInt8], [UInt8]) throws -> Bool)
        throws
    {
        guard let dbi = try dbi(table, create: false) else { return }
        try rawForEach(dbi: dbi, table: table, from: from, reverse: reverse, body)
    }

    func rawForEach(
        dbi: MDB_dbi, table: String, from: [UInt8]?, reverse: Bool, _ body: ([UInt8], [UInt8]) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try StorageError.check(mdb_cursor_open(try handle(), dbi, &cursor), "mdb_cursor_open \(table)")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(), v = MDB_val()
        var rc: Int32
        if let from {
            rc = try withKey(from) { key in
                var rc = mdb_cursor_get(cursor, &key, &v, MDB_SET_RANGE)
                k = key
                if reverse {
                    if rc == MDB_NOTFOUND {
                        rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
                    } else if rc == 0, !UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size).elementsEqual(from) {
                        rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV)
                    }
                }
                return rc
            }
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_LAST : MDB_FIRST)
        }
        while rc == 0 {
            let key = Array(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size))
            let value = Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            guard try body(key, value) else { return }
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try StorageError.check(rc, "mdb_cursor_get \(table)") }
    }
}

/// The write transaction: reads see its own writes. Valid only inside `Environment.write`'s closure.
public final class WriteTransaction: ReadTransaction {
    /// Set when LMDB reported a full map, so `Environment.write` grows and retries.
    var hitMapFull = false

    init(environment: Environment, handle: OpaquePointer) {
        super.init(environment: environment, handle: handle, readOnly: false)
    }

    /// Stores `value` under `key`, replacing any previous value. With `append`, the key must be
    /// greater than every key in the table (MDB_APPEND: no page splits, much faster for sorted
    /// loads); otherwise `appendOutOfOrder` is thrown.
    public func put<T: Table>(_ table: T.Type, _ key: T.Key, _ value: T.Value, append: Bool = false) throws {
        let txn = try handle()
        guard let dbi = try dbi(T.name, create: true) else { return }
        try withKey(key) { k in
            try value.withStorageBytes { raw in
                var v = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                let rc = mdb_put(txn, dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0)
                if append, rc == MDB_KEYEXIST { throw StorageError.appendOutOfOrder(table: T.name) }
                try checkWrite(rc, "mdb_put \(T.name)")
            }
        }
    }

    /// Stores `value` under `key` unless the key exists; returns whether it stored.
    public func insert<T: Table>(_ table: T.Type, _ key: T.Key, _ value: T.Value) throws -> Bool {
        let txn = try handle()
        guard let dbi = try dbi(T.name, create: true) else { return false }
        return try withKey(key) { k in
            try value.withStorageBytes { raw in
                var v = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                let rc = mdb_put(txn, dbi, &k, &v, UInt32(MDB_NOOVERWRITE))
                if rc == MDB_KEYEXIST { return false }
                try checkWrite(rc, "mdb_put \(T.name)")
                return true
            }
        }
    }

    /// Deletes `key`; returns whether it was present.
    @discardableResult
    public func delete<T: Table>(_ table: T.Type, _ key: T.Key) throws -> Bool {
        let txn = try handle()
        guard let dbi = try dbi(T.name, create: false) else { return false }
        return try withKey(key) { k in
            let rc = mdb_del(txn, dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try checkWrite(rc, "mdb_del \(T.name)")
            return true
        }
    }

    /// Deletes every entry of the table (the table stays).
    public func clear<T: Table>(_ table: T.Type) throws {
        let txn = try handle()
        guard let dbi = try dbi(T.name, create: false) else { return }
        try checkWrite(mdb_drop(txn, dbi, 0), "mdb_drop \(T.name)")
    }

    /// Stores raw bytes in table `table` (created if needed).
    public func rawPut(table: String, key: [UInt8], value: [UInt8]) throws {
        let txn = try handle()
        guard let dbi = try dbi(table, create: true) else { return }
        try withKey(key) { k in
            try value.withUnsafeBytes { raw in
                var v = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                try checkWrite(mdb_put(txn, dbi, &k, &v, 0), "mdb_put \(table)")
            }
        }
    }
}

/// Owns an LMDB cursor until its transaction or scope ends.
final class CursorBox {
    private(set) var cursor: OpaquePointer?
    private let hadTable: Bool

    init(cursor: OpaquePointer?) {
        self.cursor = cursor
        self.hadTable = cursor != nil
    }

    /// The live cursor; nil for a table that does not exist; throws once closed.
    func live() throws -> OpaquePointer? {
        if hadTable, cursor == nil { throw StorageError.transactionClosed }
        return cursor
    }

    func close() {
        if let cursor { mdb_cursor_close(cursor) }
        cursor = nil
    }
}

/// A position in a table, moved by `first`, `last`, `next`, `previous` and `seek`. Each returns the
/// entry it lands on, or nil past either end. Valid only inside `ReadTransaction.cursor`'s closure.
public final class Cursor<T: Table> {
    let box: CursorBox
    let transaction: ReadTransaction

    init(box: CursorBox, transaction: ReadTransaction) {
        self.box = box
        self.transaction = transaction
    }

    private func move(_ op: MDB_cursor_op) throws -> (key: T.Key, value: T.Value)? {
        _ = try transaction.handle()
        guard let cursor = try box.live() else { return nil }
        var k = MDB_val(), v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try StorageError.check(rc, "mdb_cursor_get \(T.name)")
        return (
            try ReadTransaction.decode(T.Key.self, k, table: T.name),
            try ReadTransaction.decode(T.Value.self, v, table: T.name)
        )
    }

    public func first() throws -> (key: T.Key, value: T.Value)? { try move(MDB_FIRST) }
    public func last() throws -> (key: T.Key, value: T.Value)? { try move(MDB_LAST) }
    public func next() throws -> (key: T.Key, value: T.Value)? { try move(MDB_NEXT) }
    public func previous() throws -> (key: T.Key, value: T.Value)? { try move(MDB_PREV) }
    public func current() throws -> (key: T.Key, value: T.Value)? { try move(MDB_GET_CURRENT) }

    /// Moves to the first entry whose key is `>= key`.
    public func seek(_ key: T.Key) throws -> (key: T.Key, value: T.Value)? {
        try seek(key, MDB_SET_RANGE)
    }

    /// Moves to the entry whose key is exactly `key`.
    public func seekExact(_ key: T.Key) throws -> (key: T.Key, value: T.Value)? {
        try seek(key, MDB_SET_KEY)
    }

    private func seek(_ key: T.Key, _ op: MDB_cursor_op) throws -> (key: T.Key, value: T.Value)? {
        _ = try transaction.handle()
        guard let cursor = try box.live() else { return nil }
        return try transaction.withKey(key) { k -> (key: T.Key, value: T.Value)? in
            var v = MDB_val()
            let rc = mdb_cursor_get(cursor, &k, &v, op)
            if rc == MDB_NOTFOUND { return nil }
            try StorageError.check(rc, "mdb_cursor_get \(T.name)")
            return (
                try ReadTransaction.decode(T.Key.self, k, table: T.name),
                try ReadTransaction.decode(T.Value.self, v, table: T.name)
            )
        }
    }

    /// Deletes the entry under the cursor (write transactions only).
    public func deleteCurrent() throws {
        guard let write = transaction as? WriteTransaction else { throw StorageError.readOnly }
        _ = try write.handle()
        guard let cursor = try box.live() else { return }
        try write.checkWrite(mdb_cursor_del(cursor, 0), "mdb_cursor_del \(T.name)")
    }
}
