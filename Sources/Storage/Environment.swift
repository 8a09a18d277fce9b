import CLMDB
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One LMDB environment: a directory holding `data.mdb` and `lock.mdb`, with named tables.
///
/// Transactions are scoped to closures: `read { txn in … }` and `write { txn in … }`. A throw from
/// the closure aborts; a normal return commits. The transaction and its cursors are invalid once
/// the closure returns (using them throws `transactionClosed`), and starting a transaction inside
/// another on the same thread throws `nestedTransaction`. Read transactions never block the writer
/// and see a consistent snapshot. There is one writer at a time; `write` blocks until it can start.
///
/// The map grows by itself: when a write hits `MDB_MAP_FULL` the transaction is aborted, the map
/// doubled (up to `Options.maxMapSize`) while no other transaction of this process is open, and the
/// write closure **runs again from the start** — so it must not have effects outside the
/// transaction. Stale reader slots left by crashed processes are cleared at open.
public final class Environment: @unchecked Sendable {
    /// How much each commit is made durable.
    public enum Durability: Sendable {
        /// fsync data and meta pages on every commit: nothing committed is lost, even on power loss.
        case full
        /// fsync data but not the meta page (MDB_NOMETASYNC): a power loss may undo the last commit.
        case noMetaSync
        /// no fsync (MDB_NOSYNC): the OS writes back; safe against process crashes only.
        case noSync
    }

    /// Opening parameters.
    public struct Options: Sendable {
        /// The map size to start with (grown on demand). Ignored when the store is larger already.
        public var initialMapSize = 64 << 20
        /// The largest the map may grow to.
        public var maxMapSize = 1 << 40
        /// The most named tables.
        public var maxTables: UInt32 = 64
        /// The most concurrent read transactions across all processes.
        public var maxReaders: UInt32 = 126
        /// Open for reading only (works while another process writes).
        public var readOnly = false
        /// Commit durability.
        public var durability = Durability.full
        /// Where growth and stale-reader cleanup are logged.
        public var logger = Logger(label: "tributary.storage")

        public init() {}
    }

    /// The environment's directory.
    public let path: String
    /// The options it was opened with.
    public let options: Options

    let env: OpaquePointer
    let maxKeySize: Int
    private let resizeLock = ReadWriteLock()
    private let dbiLock = Mutex()
    private let cacheLock = Mutex()
    private var dbiCache: [String: MDB_dbi] = [:]

    /// Opens (and, unless read-only, creates) the environment in directory `path`.
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        self.options = options
        if !options.readOnly {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
                throw StorageError.lmdb(
                    code: errno, message: String(cString: strerror(errno)), operation: "mkdir \(path)")
            }
        }
        var handle: OpaquePointer?
        try StorageError.check(mdb_env_create(&handle), "mdb_env_create")
        guard let handle else {
            throw StorageError.lmdb(code: -1, message: "no environment", operation: "mdb_env_create")
        }
        do {
            try StorageError.check(mdb_env_set_maxdbs(handle, options.maxTables), "mdb_env_set_maxdbs")
            try StorageError.check(mdb_env_set_maxreaders(handle, options.maxReaders), "mdb_env_set_maxreaders")
            if !options.readOnly {
                try StorageError.check(mdb_env_set_mapsize(handle, options.initialMapSize), "mdb_env_set_mapsize")
            }
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            switch options.durability {
            case .full: break
            case .noMetaSync: flags |= UInt32(MDB_NOMETASYNC)
            case .noSync: flags |= UInt32(MDB_NOSYNC)
            }
            try StorageError.check(mdb_env_open(handle, path, flags, 0o644), "mdb_env_open \(path)")
        } catch {
            mdb_env_close(handle)
            throw error
        }
        env = handle
        maxKeySize = Int(mdb_env_get_maxkeysize(handle))
        let cleared = try clearStaleReaders()
        if cleared > 0 {
            options.logger.info(
                "cleared stale readers", metadata: ["storage.path": "\(path)", "storage.readers_cleared": "\(cleared)"])
        }
    }

    deinit { mdb_env_close(env) }

    // MARK: Transactions

    /// Runs `body` in a read-only snapshot transaction.
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        try TransactionDepth.enter()
        defer { TransactionDepth.leave() }
        resizeLock.lockShared()
        defer { resizeLock.unlock() }
        let txn = ReadTransaction(environment: self, handle: try begin(readOnly: true))
        do {
            let result = try body(txn)
            try txn.finish(commit: true)
            return result
        } catch {
            try? txn.finish(commit: false)
            throw error
        }
    }

    /// Runs `body` in the write transaction and commits it. May run `body` more than once (after
    /// growing a full map); `body` must not have effects outside the transaction.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        guard !options.readOnly else { throw StorageError.readOnly }
        try TransactionDepth.enter()
        defer { TransactionDepth.leave() }
        while true {
            var mapFull = false
            let result: R? = try {
                resizeLock.lockShared()
                defer { resizeLock.unlock() }
                let txn = WriteTransaction(environment: self, handle: try begin(readOnly: false))
                do {
                    let result = try body(txn)
                    if txn.hitMapFull {
                        try? txn.finish(commit: false)
                        mapFull = true
                        return nil
                    }
                    try txn.finish(commit: true)
                    return result
                } catch {
                    try? txn.finish(commit: false)
                    if txn.hitMapFull || isMapFull(error) {
                        mapFull = true
                        return nil
                    }
                    throw error
                }
            }()
            if let result, !mapFull { return result }
            try growMap()
        }
    }

    private func isMapFull(_ error: any Error) -> Bool {
        if case StorageError.lmdb(let code, _, _) = error { return code == MDB_MAP_FULL }
        return false
    }

    private func begin(readOnly: Bool) throws -> OpaquePointer {
        while true {
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
            if rc == MDB_MAP_RESIZED {
                // Another process grew the map: adopt its size. Needs no transaction open here, so
                // step out of the shared lock while doing it.
                resizeLock.unlock()
                resizeLock.lockExclusive()
                let adopt = mdb_env_set_mapsize(env, 0)
                resizeLock.unlock()
                resizeLock.lockShared()
                try StorageError.check(adopt, "mdb_env_set_mapsize (adopt)")
                continue
            }
            try StorageError.check(rc, readOnly ? "mdb_txn_begin (read)" : "mdb_txn_begin (write)")
            guard let txn else {
                throw StorageError.lmdb(code: -1, message: "no transaction", operation: "mdb_txn_begin")
            }
            return txn
        }
    }

    private func growMap() throws {
        resizeLock.lockExclusive()
        defer { resizeLock.unlock() }
        let current = try info().mapSize
        let target = min(max(current * 2, current + (1 << 20)), options.maxMapSize)
        guard target > current else {
            throw StorageError.mapFullCannotGrow(
                mapSize: current, maxMapSize: options.maxMapSize, path: path, freeDiskBytes: freeDiskBytes())
        }
        try StorageError.check(mdb_env_set_mapsize(env, target), "mdb_env_set_mapsize")
        options.logger.info(
            "map grown",
            metadata: [
                "storage.path": "\(path)", "storage.map_size": "\(target)", "storage.previous_map_size": "\(current)",
            ])
    }

    /// Free bytes on the disk holding the store, if known.
    public func freeDiskBytes() -> Int? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    // MARK: Table handles

    /// The cached handle of a table, if this process has opened it before.
    func cachedDBI(_ name: String) -> MDB_dbi? { cacheLock.withLock { dbiCache[name] } }

    func cacheDBIs(_ handles: [String: MDB_dbi]) {
        cacheLock.withLock { dbiCache.merge(handles) { old, _ in old } }
    }

    /// LMDB allows `mdb_dbi_open` in only one transaction at a time, and that transaction must end
    /// before another may open a table; a transaction that opens one holds this lock until it ends.
    func lockTableOpening() { dbiLock.lock() }
    func unlockTableOpening() { dbiLock.unlock() }

    // MARK: Inspection

    /// The environment's map and reader picture.
    public func info() throws -> EnvironmentInfo {
        var info = MDB_envinfo()
        try StorageError.check(mdb_env_info(env, &info), "mdb_env_info")
        var stat = MDB_stat()
        try StorageError.check(mdb_env_stat(env, &stat), "mdb_env_stat")
        return EnvironmentInfo(
            mapSize: info.me_mapsize, pageSize: Int(stat.ms_psize), lastPageNumber: info.me_last_pgno,
            lastTransactionID: info.me_last_txnid, maxReaders: Int(info.me_maxreaders),
            readersUsed: Int(info.me_numreaders))
    }

    /// The statistics of table `name`, or nil when it does not exist.
    public func stat(table name: String) throws -> TableStat? {
        try read { txn in
            guard let dbi = try txn.dbi(name, create: false) else { return nil }
            var s = MDB_stat()
            try StorageError.check(mdb_stat(try txn.handle(), dbi, &s), "mdb_stat \(name)")
            return TableStat(s)
        }
    }

    /// The names of the tables present, in order.
    public func tableNames() throws -> [String] {
        try read { txn in
            var main: MDB_dbi = 0
            try StorageError.check(mdb_dbi_open(try txn.handle(), nil, 0, &main), "mdb_dbi_open (main)")
            var names: [String] = []
            try txn.rawForEach(dbi: main, table: "(main)", from: nil, reverse: false) { key, _ in
                names.append(String(decoding: key, as: UTF8.self))
                return true
            }
            return names
        }
    }

    /// Copies the environment into the existing empty directory `path` (`mdb_env_copy2`); with
    /// `compact`, free pages are omitted and pages renumbered, like `mdb_copy -c`. Consistent: the
    /// copy is made from one read transaction while writers go on.
    public func copy(to path: String, compact: Bool) throws {
        try StorageError.check(mdb_env_copy2(env, path, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2 \(path)")
    }

    /// Releases the reader slots of processes that died holding a transaction; returns how many.
    @discardableResult
    public func clearStaleReaders() throws -> Int {
        var dead: Int32 = 0
        try StorageError.check(mdb_reader_check(env, &dead), "mdb_reader_check")
        return Int(dead)
    }

    /// Flushes everything to disk (useful with a relaxed durability).
    public func sync() throws {
        try StorageError.check(mdb_env_sync(env, 1), "mdb_env_sync")
    }
}

/// The environment-wide picture (`mdb_stat -e`).
public struct EnvironmentInfo: Sendable, Equatable, Codable {
    public var mapSize: Int
    public var pageSize: Int
    public var lastPageNumber: Int
    public var lastTransactionID: Int
    public var maxReaders: Int
    public var readersUsed: Int
}

/// One table's B-tree statistics (`mdb_stat -a`).
public struct TableStat: Sendable, Equatable, Codable {
    public var pageSize: Int
    public var depth: Int
    public var branchPages: Int
    public var leafPages: Int
    public var overflowPages: Int
    public var entries: Int

    init(_ s: MDB_stat) {
        pageSize = Int(s.ms_psize)
        depth = Int(s.ms_depth)
        branchPages = s.ms_branch_pages
        leafPages = s.ms_leaf_pages
        overflowPages = s.ms_overflow_pages
        entries = s.ms_entries
    }

    /// Bytes in use: every page of the table.
    public var bytes: Int { (branchPages + leafPages + overflowPages) * pageSize }
}
