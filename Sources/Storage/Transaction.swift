import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only snapshot of the store, valid inside the closure passed to `Environment.read`.
///
/// Every read sees the store as of the transaction's start. A table that does not exist reads as empty: `get`
/// returns nil, scans visit nothing. Using the transaction after its closure returned throws
/// `StorageError.transactionClosed`. Keys longer than the environment's maximum key size throw
/// `StorageError.keyTooLarge`; bytes that do not decode throw `StorageError.decoding` naming the table.
public class ReadTransaction {
    let environment: Environment
    /// The LMDB transaction; nil once the scope ended.
    var handle: OpaquePointer?
    let isWrite: Bool
    /// Set when an LMDB call returned `MDB_MAP_FULL`: the write is retried after growing the map.
    var hitMapFull = false
    /// Handles this write transaction opened; exported to the environment at commit.
    var createdHandles: [(name: String, dbi: MDB_dbi)] = []

    private let maxKeySize: Int
    /// Whether any table was looked up yet, i.e. whether the caller may have observed this snapshot.
    private var hasResolvedTables = false
    /// Typed-table handle cache: the last table used, then all tables used. 0 marks a table absent from a read
    /// transaction's snapshot (LMDB never hands out 0, the free-page database, for a named table).
    private var lastTable: ObjectIdentifier?
    private var lastDBI: MDB_dbi = 0
    private var tableIDs: [ObjectIdentifier] = []
    private var tableDBIs: [MDB_dbi] = []
    private var namedDBIs: [String: MDB_dbi] = [:]

    init(environment: Environment, handle: OpaquePointer, isWrite: Bool) {
        self.environment = environment
        self.handle = handle
        self.isWrite = isWrite
        self.maxKeySize = environment.maxKeySize
    }

    // MARK: Typed reads

    /// The value stored under `key`, or nil if there is none.
    public func get<T: Table>(_ table: T.Type, _ key: T.Key) throws -> T.Value? {
        try withValueBytes(table, key) { try decode(T.self, T.Value.self, $0) }
    }

    /// Calls `body` with the stored bytes of the value under `key`, without copying them, and returns its
    /// result; returns nil without calling `body` if there is no such key.
    ///
    /// The buffer points into the memory map and is valid only during the call; do not write through this
    /// transaction inside `body`.
    public func withValueBytes<T: Table, R>(
        _ table: T.Type, _ key: T.Key, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        guard let dbi = try dbi(table, create: false), let txn = handle else { return nil }
        return try withKeyValue(key) { key -> R? in
            var value = MDB_val()
            let rc = mdb_get(txn, dbi, &key, &value)
            if rc == MDB_NOTFOUND { return nil }
            if rc != 0 { try fail(rc, "mdb_get(\(T.name))") }
            return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    /// Whether `key` has a value.
    public func contains<T: Table>(_ table: T.Type, _ key: T.Key) throws -> Bool {
        try withValueBytes(table, key) { _ in true } ?? false
    }

    /// The number of entries of the table.
    public func count<T: Table>(_ table: T.Type) throws -> Int {
        guard let dbi = try dbi(table, create: false) else { return 0 }
        return try statistics(dbi, T.name).entries
    }

    /// Runs `body` with a cursor over the table and returns its result. The cursor is closed when `body` returns;
    /// using it afterwards throws `StorageError.transactionClosed`.
    ///
    /// In a write transaction this creates the table if it does not exist.
    public func cursor<T: Table, R>(_ table: T.Type, _ body: (Cursor<T>) throws -> R) throws -> R {
        let dbi = try dbi(table, create: isWrite)
        let cursor = try Cursor<T>(transaction: self, cursor: dbi.map { try openCursor($0, T.name) })
        defer { cursor.close() }
        return try body(cursor)
    }

    /// Visits entries in key order, until `body` returns false.
    ///
    /// Forward, the scan starts at the first key >= `from` (or the first key); with `reverse`, it starts at the
    /// last key <= `from` (or the last key) and goes backwards.
    public func forEach<T: Table>(
        _ table: T.Type, from: T.Key? = nil, reverse: Bool = false, _ body: (T.Key, T.Value) throws -> Bool
    ) throws {
        guard let dbi = try dbi(table, create: false) else { return }
        func visit(_ key: MDB_val, _ value: MDB_val) throws -> Bool {
            try body(decode(T.self, T.Key.self, key), decode(T.self, T.Value.self, value))
        }
        if let from {
            try withKeyValue(from) { start in
                try scan(dbi, T.name, start: start, inclusive: true, reverse: reverse, visit)
            }
        } else {
            try scan(dbi, T.name, start: nil, inclusive: true, reverse: reverse, visit)
        }
    }

    /// Visits, in key order (backwards with `reverse`), every entry whose key bytes start with `prefix`, until
    /// `body` returns false. An empty prefix visits every entry.
    public func forEach<T: Table>(
        _ table: T.Type, prefix: [UInt8], reverse: Bool = false, _ body: (T.Key, T.Value) throws -> Bool
    ) throws {
        guard let dbi = try dbi(table, create: false) else { return }
        try scan(dbi, T.name, prefix: prefix, reverse: reverse) { key, value in
            try body(self.decode(T.self, T.Key.self, key), self.decode(T.self, T.Value.self, value))
        }
    }

    // MARK: Untyped reads

    /// The value stored under `key` in the table named `table`, or nil if the key or table does not exist.
    ///
    /// For tools that handle any table by name; application code uses the typed methods.
    public func rawGet(table: String, key: [UInt8]) throws -> [UInt8]? {
        guard let dbi = try dbi(named: table, create: false), let txn = handle else { return nil }
        return try withKeyValue(key) { key -> [UInt8]? in
            var value = MDB_val()
            let rc = mdb_get(txn, dbi, &key, &value)
            if rc == MDB_NOTFOUND { return nil }
            if rc != 0 { try fail(rc, "mdb_get(\(table))") }
            return [UInt8](UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    /// Visits the raw entries of the table named `table`, as `forEach(_:from:reverse:_:)` does, until `body`
    /// returns false. A table that does not exist has no entries.
    public func rawForEach(
        table: String, from: [UInt8]?, reverse: Bool, _ body: ([UInt8], [UInt8]) throws -> Bool
    ) throws {
        guard let dbi = try dbi(named: table, create: false) else { return }
        func visit(_ key: MDB_val, _ value: MDB_val) throws -> Bool {
            try body(
                [UInt8](UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)),
                [UInt8](UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)))
        }
        if let from {
            try withKeyValue(from) { start in
                try scan(dbi, table, start: start, inclusive: true, reverse: reverse, visit)
            }
        } else {
            try scan(dbi, table, start: nil, inclusive: true, reverse: reverse, visit)
        }
    }

    /// Statistics of the table named `name`, or nil if it does not exist.
    public func stat(table name: String) throws -> TableStat? {
        guard let dbi = try dbi(named: name, create: false) else { return nil }
        return try statistics(dbi, name)
    }

    /// LMDB's free list as of this snapshot, as `mdb_stat -f` shows it: the statistics of the free-page
    /// database and the number of free pages its entries list (pages freed by old transactions, reused by later
    /// writes once no reader needs them).
    public func freeList() throws -> (stat: TableStat, freePages: Int) {
        guard let txn = handle else { throw StorageError.transactionClosed }
        let stat = try statistics(0, "free list")
        var cursor: OpaquePointer?
        let rc = mdb_cursor_open(txn, 0, &cursor)
        if rc != 0 { try fail(rc, "mdb_cursor_open(free list)") }
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        var pages = 0
        var op = MDB_FIRST
        while true {
            let getRC = mdb_cursor_get(cursor, &key, &value, op)
            if getRC == MDB_NOTFOUND { break }
            if getRC != 0 { try fail(getRC, "mdb_cursor_get(free list)") }
            // Each entry is an ID list whose first word is its length.
            if value.mv_size >= MemoryLayout<Int>.size {
                pages += value.mv_data.loadUnaligned(as: Int.self)
            }
            op = MDB_NEXT
        }
        return (stat, pages)
    }

    /// The names of the tables in the store, in byte order (the keys of LMDB's main database).
    public func tableNames() throws -> [String] {
        guard handle != nil else { throw StorageError.transactionClosed }
        hasResolvedTables = true
        var names: [String] = []
        try scan(environment.mainDBI, "main", start: nil, inclusive: true, reverse: false) { key, _ in
            let bytes = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
            if let name = try? String(storageBytes: bytes) { names.append(name) }
            return true
        }
        return names
    }

    // MARK: Internals

    /// The handle of a typed table: nil if it does not exist (and `create` is false or this is a read).
    @inline(__always)
    final func dbi<T: Table>(_ table: T.Type, create: Bool) throws -> MDB_dbi? {
        guard handle != nil else { throw StorageError.transactionClosed }
        let id = ObjectIdentifier(table)
        if id == lastTable { return lastDBI == 0 ? nil : lastDBI }
        return try lookUpDBI(id, T.name, create: create)
    }

    private func lookUpDBI(_ id: ObjectIdentifier, _ name: String, create: Bool) throws -> MDB_dbi? {
        if let index = tableIDs.firstIndex(of: id) {
            let dbi = tableDBIs[index]
            // A write transaction caches only tables that exist, so an absent one is looked up again to create it.
            if dbi != 0 || !isWrite {
                lastTable = id
                lastDBI = dbi
                return dbi == 0 ? nil : dbi
            }
        }
        let resolved = try dbi(named: name, create: create)
        if resolved != nil || !isWrite {
            tableIDs.append(id)
            tableDBIs.append(resolved ?? 0)
            lastTable = id
            lastDBI = resolved ?? 0
        }
        return resolved
    }

    /// The handle of the table `name` in this transaction, nil if it does not exist and is not created.
    final func dbi(named name: String, create: Bool) throws -> MDB_dbi? {
        guard let txn = handle else { throw StorageError.transactionClosed }
        if let cached = namedDBIs[name] { return cached == 0 ? nil : cached }
        let resolved = isWrite ? try writeDBI(name, txn, create: create) : try readDBI(name, txn)
        if resolved != nil || !isWrite { namedDBIs[name] = resolved ?? 0 }
        hasResolvedTables = true
        return resolved
    }

    private func readDBI(_ name: String, _ txn: OpaquePointer) throws -> MDB_dbi? {
        // Read transactions never call mdb_dbi_open: LMDB allows that in one transaction at a time only. They use
        // handles exported by committed transactions that were valid when they began.
        var flags: UInt32 = 0
        if let cached = environment.cachedHandle(name), mdb_dbi_flags(txn, cached, &flags) == 0 {
            return cached
        }
        guard try tableExists(name, txn) else { return nil }
        // Another process created the table after this environment opened it. Once its handle is open, a
        // transaction that has not looked at anything yet can move to a fresh snapshot, unnoticeably.
        try environment.openHandle(createdElsewhere: name)
        if !hasResolvedTables, renew(txn), let txn = handle, let cached = environment.cachedHandle(name),
            mdb_dbi_flags(txn, cached, &flags) == 0
        {
            return cached
        }
        throw StorageError.tableUnavailable(table: name)
    }

    /// Moves a read transaction to the latest snapshot (`mdb_txn_reset` and `mdb_txn_renew`); on failure the
    /// transaction is closed and false returned.
    private func renew(_ txn: OpaquePointer) -> Bool {
        mdb_txn_reset(txn)
        if environment.renew(txn) == 0 { return true }
        handle = nil
        mdb_txn_abort(txn)
        return false
    }

    private func writeDBI(_ name: String, _ txn: OpaquePointer, create: Bool) throws -> MDB_dbi? {
        var flags: UInt32 = 0
        if let cached = environment.cachedHandle(name) {
            // Write transactions begin after every export they could miss, so a cached handle is always valid.
            guard mdb_dbi_flags(txn, cached, &flags) == 0 else {
                throw StorageError.lmdbError(MDB_BAD_DBI, "mdb_dbi_flags(\(name))")
            }
            return cached
        }
        var dbi: MDB_dbi = 0
        let rc = name.withCString { mdb_dbi_open(txn, $0, create ? UInt32(MDB_CREATE) : 0, &dbi) }
        if rc == MDB_NOTFOUND, !create { return nil }
        if rc != 0 { try fail(rc, "mdb_dbi_open(\(name))") }
        createdHandles.append((name, dbi))
        return dbi
    }

    /// Whether the main database lists `name` in this transaction's snapshot.
    private func tableExists(_ name: String, _ txn: OpaquePointer) throws -> Bool {
        var copy = name
        return try copy.withUTF8 { bytes in
            guard !bytes.isEmpty else { return false }
            var key = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            var value = MDB_val()
            let rc = mdb_get(txn, environment.mainDBI, &key, &value)
            if rc == MDB_NOTFOUND { return false }
            if rc != 0 { try fail(rc, "mdb_get(main, \(name))") }
            return true
        }
    }

    private func statistics(_ dbi: MDB_dbi, _ name: String) throws -> TableStat {
        guard let txn = handle else { throw StorageError.transactionClosed }
        var stat = MDB_stat()
        let rc = mdb_stat(txn, dbi, &stat)
        if rc != 0 { try fail(rc, "mdb_stat(\(name))") }
        return TableStat(
            pageSize: Int(stat.ms_psize), depth: Int(stat.ms_depth), branchPages: stat.ms_branch_pages,
            leafPages: stat.ms_leaf_pages, overflowPages: stat.ms_overflow_pages, entries: stat.ms_entries)
    }

    /// Calls `body` with an `MDB_val` over the key's bytes, after checking the key size.
    @inline(__always)
    final func withKeyValue<K: StorageCodable, R>(_ key: K, _ body: (inout MDB_val) throws -> R) throws -> R {
        try key.withStorageBytes { bytes in
            guard bytes.count <= maxKeySize else {
                throw StorageError.keyTooLarge(size: bytes.count, maxKeySize: maxKeySize)
            }
            var value = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            return try body(&value)
        }
    }

    /// Decodes stored bytes, naming the table in decoding errors.
    @inline(__always)
    final func decode<T: Table, V: StorageCodable>(_ table: T.Type, _ type: V.Type, _ value: MDB_val) throws -> V {
        try decode(table, type, UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    @inline(__always)
    final func decode<T: Table, V: StorageCodable>(
        _ table: T.Type, _ type: V.Type, _ bytes: UnsafeRawBufferPointer
    ) throws -> V {
        do {
            return try V(storageBytes: bytes)
        } catch StorageError.decoding(let name, let reason) where name.isEmpty {
            throw StorageError.decoding(table: T.name, reason: reason)
        }
    }

    /// Throws the error for a failed LMDB call, noting a full map for the write retry.
    final func fail(_ rc: Int32, _ operation: @autoclosure () -> String) throws -> Never {
        if rc == MDB_MAP_FULL { hitMapFull = true }
        throw StorageError.lmdbError(rc, operation())
    }

    final func openCursor(_ dbi: MDB_dbi, _ name: String) throws -> OpaquePointer {
        guard let txn = handle else { throw StorageError.transactionClosed }
        var cursor: OpaquePointer?
        let rc = mdb_cursor_open(txn, dbi, &cursor)
        guard rc == 0, let cursor else { try fail(rc, "mdb_cursor_open(\(name))") }
        return cursor
    }

    /// Runs a cursor from `start` (or an end) in one direction, calling `body` for each entry until it returns
    /// false. Reverse with a start begins at the last key <= `start`, or < `start` when not `inclusive`.
    private func scan(
        _ dbi: MDB_dbi, _ name: String, start: MDB_val?, inclusive: Bool, reverse: Bool,
        _ body: (MDB_val, MDB_val) throws -> Bool
    ) throws {
        let cursor = try openCursor(dbi, name)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        func move(_ op: MDB_cursor_op) throws -> Bool {
            let rc = mdb_cursor_get(cursor, &key, &value, op)
            if rc == MDB_NOTFOUND { return false }
            if rc != 0 { try fail(rc, "mdb_cursor_get(\(name))") }
            return true
        }
        var found: Bool
        if let start, start.mv_size > 0 {
            key = start
            found = try move(MDB_SET_RANGE)
            if reverse {
                if !found {
                    found = try move(MDB_LAST)
                } else if !inclusive || !Self.equal(key, start) {
                    found = try move(MDB_PREV)
                }
            }
        } else if start != nil, reverse {
            // No key sorts at or before the empty key.
            return
        } else {
            found = try move(reverse ? MDB_LAST : MDB_FIRST)
        }
        let step = reverse ? MDB_PREV : MDB_NEXT
        while found {
            guard try body(key, value) else { return }
            found = try move(step)
        }
    }

    private func scan(
        _ dbi: MDB_dbi, _ name: String, prefix: [UInt8], reverse: Bool,
        _ body: (MDB_val, MDB_val) throws -> Bool
    ) throws {
        if prefix.isEmpty {
            return try scan(dbi, name, start: nil, inclusive: true, reverse: reverse, body)
        }
        // No stored key is longer than the maximum, so none can carry a longer prefix.
        if prefix.count > maxKeySize { return }
        try prefix.withUnsafeBytes { prefixBytes in
            guard let prefixStart = prefixBytes.baseAddress else { return }
            func matching(_ key: MDB_val, _ value: MDB_val) throws -> Bool {
                guard key.mv_size >= prefixBytes.count, memcmp(key.mv_data, prefixStart, prefixBytes.count) == 0
                else { return false }
                return try body(key, value)
            }
            if !reverse {
                let start = MDB_val(mv_size: prefixBytes.count, mv_data: UnsafeMutableRawPointer(mutating: prefixStart))
                return try scan(dbi, name, start: start, inclusive: true, reverse: false, matching)
            }
            // Backwards from just below the smallest key greater than every key with the prefix.
            guard let upper = Self.prefixSuccessor(prefix) else {
                return try scan(dbi, name, start: nil, inclusive: true, reverse: true, matching)
            }
            try upper.withUnsafeBytes { upperBytes in
                let start = MDB_val(
                    mv_size: upperBytes.count, mv_data: UnsafeMutableRawPointer(mutating: upperBytes.baseAddress))
                try scan(dbi, name, start: start, inclusive: false, reverse: true, matching)
            }
        }
    }

    /// The smallest byte string greater than every string starting with `prefix`; nil if there is none (the
    /// prefix is all 0xFF).
    static func prefixSuccessor(_ prefix: [UInt8]) -> [UInt8]? {
        var upper = prefix
        while let last = upper.last {
            if last < 0xFF {
                upper[upper.count - 1] = last + 1
                return upper
            }
            upper.removeLast()
        }
        return nil
    }

    private static func equal(_ a: MDB_val, _ b: MDB_val) -> Bool {
        a.mv_size == b.mv_size && (a.mv_size == 0 || memcmp(a.mv_data, b.mv_data, a.mv_size) == 0)
    }

    /// Ends a read transaction, or abandons a write transaction; idempotent.
    final func abort() {
        guard let txn = handle else { return }
        handle = nil
        mdb_txn_abort(txn)
    }

    /// Commits a write transaction and returns LMDB's result; the transaction is closed either way.
    final func commit() -> Int32 {
        guard let txn = handle else { return MDB_BAD_TXN }
        handle = nil
        return environment.commit(txn, created: createdHandles)
    }
}

/// A read-write transaction, valid inside the closure passed to `Environment.write`.
///
/// Adds writes to everything a `ReadTransaction` does. Tables are created on first write. The writes become
/// visible to other transactions when the closure returns and the commit succeeds; if the closure throws, none
/// of them happen. Writes that fill the memory map throw, and the whole closure is then run again after the map
/// has grown (see `Environment.write`).
public final class WriteTransaction: ReadTransaction {
    /// Stores `value` under `key`, replacing any value.
    ///
    /// With `append`, the key must sort after every key of the table; LMDB then appends without searching
    /// (`MDB_APPEND`), which is faster for bulk loads in key order and packs pages fully. A key that does not
    /// sort last throws `StorageError.appendOutOfOrder`.
    public func put<T: Table>(_ table: T.Type, _ key: T.Key, _ value: T.Value, append: Bool = false) throws {
        let dbi = try writableDBI(table)
        guard let txn = handle else { throw StorageError.transactionClosed }
        try withKeyValue(key) { key in
            try value.withStorageBytes { bytes in
                var data = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                let rc = mdb_put(txn, dbi, &key, &data, append ? UInt32(MDB_APPEND) : 0)
                if rc != 0 {
                    if rc == MDB_KEYEXIST, append { throw StorageError.appendOutOfOrder(table: T.name) }
                    try fail(rc, "mdb_put(\(T.name))")
                }
            }
        }
    }

    /// Stores `value` under `key` only if the key has no value yet (`MDB_NOOVERWRITE`); returns false, changing
    /// nothing, if it has one.
    public func insert<T: Table>(_ table: T.Type, _ key: T.Key, _ value: T.Value) throws -> Bool {
        let dbi = try writableDBI(table)
        guard let txn = handle else { throw StorageError.transactionClosed }
        return try withKeyValue(key) { key in
            try value.withStorageBytes { bytes in
                var data = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                let rc = mdb_put(txn, dbi, &key, &data, UInt32(MDB_NOOVERWRITE))
                if rc == MDB_KEYEXIST { return false }
                if rc != 0 { try fail(rc, "mdb_put(\(T.name))") }
                return true
            }
        }
    }

    /// Removes the value under `key`; returns false if there was none.
    @discardableResult
    public func delete<T: Table>(_ table: T.Type, _ key: T.Key) throws -> Bool {
        guard let dbi = try dbi(table, create: false), let txn = handle else { return false }
        return try withKeyValue(key) { key in
            let rc = mdb_del(txn, dbi, &key, nil)
            if rc == MDB_NOTFOUND { return false }
            if rc != 0 { try fail(rc, "mdb_del(\(T.name))") }
            return true
        }
    }

    /// Removes every entry of the table; the (empty) table stays.
    public func clear<T: Table>(_ table: T.Type) throws {
        guard let dbi = try dbi(table, create: false), let txn = handle else { return }
        let rc = mdb_drop(txn, dbi, 0)
        if rc != 0 { try fail(rc, "mdb_drop(\(T.name))") }
    }

    /// Stores `value` under `key` in the table named `table`, creating the table if needed.
    ///
    /// For tools that handle any table by name; application code uses `put`. With `append`, the key must sort
    /// after every key of the table (`MDB_APPEND`, as in `put`): bulk loads in key order then fill pages fully.
    public func rawPut(table: String, key: [UInt8], value: [UInt8], append: Bool = false) throws {
        guard let dbi = try dbi(named: table, create: true), let txn = handle else {
            throw StorageError.transactionClosed
        }
        try withKeyValue(key) { key in
            try value.withUnsafeBytes { bytes in
                var data = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                let rc = mdb_put(txn, dbi, &key, &data, append ? UInt32(MDB_APPEND) : 0)
                if rc != 0 {
                    if rc == MDB_KEYEXIST, append { throw StorageError.appendOutOfOrder(table: table) }
                    try fail(rc, "mdb_put(\(table))")
                }
            }
        }
    }

    /// Removes the value under `key` from the table named `table`; returns false if there was none.
    @discardableResult
    public func rawDelete(table: String, key: [UInt8]) throws -> Bool {
        guard let dbi = try dbi(named: table, create: false), let txn = handle else { return false }
        return try withKeyValue(key) { key in
            let rc = mdb_del(txn, dbi, &key, nil)
            if rc == MDB_NOTFOUND { return false }
            if rc != 0 { try fail(rc, "mdb_del(\(table))") }
            return true
        }
    }

    @inline(__always)
    private func writableDBI<T: Table>(_ table: T.Type) throws -> MDB_dbi {
        guard let dbi = try dbi(table, create: true) else {
            throw StorageError.lmdbError(MDB_NOTFOUND, "mdb_dbi_open(\(T.name))")
        }
        return dbi
    }
}
