import CLMDB
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An LMDB environment: one directory holding a store of named tables, opened once per process.
///
/// All access goes through closure-scoped transactions: `read` hands out a `ReadTransaction` and `write` a
/// `WriteTransaction`. A throw from the closure aborts; a normal return commits. Read transactions see a snapshot
/// and never block the writer or each other (LMDB's MVCC); write transactions are serialized, also across
/// processes.
///
/// Rules:
/// - A transaction, and the cursors it hands out, may only be used inside its closure and on the thread running
///   it. Any later use throws `StorageError.transactionClosed`.
/// - A thread may hold one transaction of an environment at a time: starting another inside a closure throws
///   `StorageError.nestedTransaction` instead of deadlocking. Pass the transaction you have down instead.
/// - The memory map grows on demand: a write that fills it is aborted, the map is doubled (up to
///   `Options.maxMapSize`) while no transaction of this process is open, and the write closure runs again from the
///   start. A write closure may therefore run more than once and must have no effects outside its transaction.
///   Growth waits for the open transactions of other threads to end, and new transactions wait for the growth.
/// - Do not open the same directory twice in one process (an LMDB rule); other processes may open it, including
///   the lmdb-utils tools.
/// - Transactions block the calling thread; from Swift concurrency, keep them short or run them off the
///   cooperative pool.
public final class Environment: @unchecked Sendable {
    /// How commits reach the disk.
    public enum Durability: Sendable, Equatable {
        /// Every commit is flushed with fsync before `write` returns: nothing committed is lost in a crash.
        case full
        /// The data is flushed at commit, the meta page only by the next commit or `sync()`: a system crash may
        /// undo the last transaction, never corrupt the store (`MDB_NOMETASYNC`).
        case noMetaSync
        /// Nothing is flushed at commit; the OS writes back later or at `sync()`: a system crash may lose recent
        /// transactions, and with some file systems corrupt the store (`MDB_NOSYNC`). For tests and rebuildable
        /// stores.
        case noSync
    }

    /// Settings for opening an environment.
    public struct Options: Sendable {
        /// Size of the memory map for a new store, in bytes (rounded up to whole pages). An existing store keeps
        /// its larger size. Default 64 MiB.
        public var initialMapSize: Int
        /// The map never grows beyond this many bytes; a write that needs more throws
        /// `StorageError.mapFullCannotGrow`. Default 1 TiB (address space only; the file grows with the data).
        public var maxMapSize: Int
        /// Maximum number of named tables (`mdb_env_set_maxdbs`). Default 64.
        public var maxTables: Int
        /// Maximum number of concurrent read transactions, across all processes (`mdb_env_set_maxreaders`).
        /// Default 126.
        public var maxReaders: Int
        /// Opens the store read-only (`MDB_RDONLY`): `write` throws `StorageError.readOnly`, the directory must
        /// exist, and the map size is the store's own. Works while another process writes.
        public var readOnly: Bool
        /// How commits reach the disk. Default `.full`.
        public var durability: Durability
        /// Where the environment logs: opening, stale readers, map growth.
        public var logger: Logger

        /// Creates options; every argument has the documented default.
        public init(
            initialMapSize: Int = 64 << 20,
            maxMapSize: Int = 1 << 40,
            maxTables: Int = 64,
            maxReaders: Int = 126,
            readOnly: Bool = false,
            durability: Durability = .full,
            logger: Logger = Logger(label: "storage", factory: { _ in SwiftLogNoOpLogHandler() })
        ) {
            self.initialMapSize = initialMapSize
            self.maxMapSize = maxMapSize
            self.maxTables = maxTables
            self.maxReaders = maxReaders
            self.readOnly = readOnly
            self.durability = durability
            self.logger = logger
        }
    }

    /// The directory holding the store (`data.mdb` and `lock.mdb`).
    public let path: String
    /// The options the environment was opened with.
    public let options: Options
    /// How many stale reader slots (left by crashed processes) were cleared when the environment was opened.
    public let staleReadersClearedAtOpen: Int

    let env: OpaquePointer
    let mainDBI: MDB_dbi
    let maxKeySize: Int
    private let osPageSize: Int

    /// Held shared by every transaction; held exclusively while the map is resized.
    private let resizeLock = ReadersWriterLock()
    /// Guards `handles`; also held around read-transaction begins and around commits that create tables, so
    /// that a read transaction either sees a new table's handle and data or neither.
    private let handleLock = PthreadMutex()
    /// Table handles valid for every transaction begun from now on. Guarded by `handleLock`.
    private var handles: [String: MDB_dbi]
    /// The current map size. Written with `resizeLock` held exclusively, read with it held shared.
    private var mapSize: Int
    /// Set when a failed resize left the environment without a usable map. Guarded like `mapSize`.
    private var poison: StorageError?
    /// Marks threads that are inside a transaction scope of this environment.
    private let scope = ThreadFlag()

    /// Opens (and unless read-only, creates) the environment in the directory `path`.
    ///
    /// The directory is created if missing, except for read-only environments. Stale reader slots left by dead
    /// processes are cleared and their count logged. Every existing table is opened so that read transactions can
    /// use it.
    ///
    /// Throws `StorageError.lmdb` when LMDB cannot open the store (missing directory when read-only, permissions,
    /// not an LMDB store, more tables than `maxTables`), naming the failing call.
    public init(path: String, options: Options = Options()) throws {
        let opened = try Self.open(path: path, options: options)
        self.path = path
        self.options = options
        self.env = opened.env
        self.mainDBI = opened.mainDBI
        self.handles = opened.handles
        self.mapSize = opened.mapSize
        self.maxKeySize = opened.maxKeySize
        self.osPageSize = opened.osPageSize
        self.staleReadersClearedAtOpen = opened.staleReaders

        let logger = options.logger
        if opened.staleReaders > 0 {
            logger.info(
                "cleared stale readers",
                metadata: ["storage.path": "\(path)", "storage.stale_readers": "\(opened.staleReaders)"])
        }
        logger.debug(
            "environment opened",
            metadata: [
                "storage.path": "\(path)", "storage.map_size": "\(opened.mapSize)",
                "storage.tables": "\(opened.handles.count)", "storage.read_only": "\(options.readOnly)",
            ])
    }

    deinit {
        mdb_env_close(env)
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction and returns its result.
    ///
    /// The transaction sees the store as of its start, whatever writers commit meanwhile, and never blocks them.
    /// Tables that do not exist read as empty.
    ///
    /// Throws `StorageError.nestedTransaction` inside another transaction of this environment on the same thread,
    /// `StorageError.lmdb` if LMDB cannot begin (e.g. `MDB_READERS_FULL` after clearing stale readers), and
    /// whatever `body` throws.
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        try enterScope()
        defer { scope.clear() }
        let handle = try begin(write: false)
        defer { resizeLock.unlock() }
        let transaction = ReadTransaction(environment: self, handle: handle, isWrite: false)
        defer { transaction.abort() }
        return try body(transaction)
    }

    /// Runs `body` in a write transaction and commits it when `body` returns; a throw aborts it.
    ///
    /// Only one write transaction runs at a time, across processes; others wait. If the memory map fills up, the
    /// transaction is aborted, the map grown and `body` run again from the start, so `body` may run more than
    /// once and must not have effects outside the transaction. A `MDB_MAP_FULL` that `body` caught still triggers
    /// the retry.
    ///
    /// Throws `StorageError.readOnly` for a read-only environment, `StorageError.nestedTransaction` inside another
    /// transaction of this environment on the same thread, `StorageError.mapFullCannotGrow` when the map is at
    /// `maxMapSize`, `StorageError.lmdb` when LMDB fails (begin or commit), and whatever `body` throws.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        guard !options.readOnly else { throw StorageError.readOnly }
        try enterScope()
        defer { scope.clear() }
        while true {
            switch try attemptWrite(body) {
            case .committed(let result):
                return result
            case .mapFull(let observedMapSize):
                try growMap(from: observedMapSize)
            }
        }
    }

    private enum WriteAttempt<R> {
        case committed(R)
        case mapFull(observedMapSize: Int)
    }

    private func attemptWrite<R>(_ body: (WriteTransaction) throws -> R) throws -> WriteAttempt<R> {
        let handle = try begin(write: true)
        defer { resizeLock.unlock() }
        let observedMapSize = mapSize
        let transaction = WriteTransaction(environment: self, handle: handle, isWrite: true)
        let result: R
        do {
            result = try body(transaction)
        } catch {
            transaction.abort()
            if transaction.hitMapFull { return .mapFull(observedMapSize: observedMapSize) }
            throw diagnosedWriteFailure(error)
        }
        if transaction.hitMapFull {
            transaction.abort()
            return .mapFull(observedMapSize: observedMapSize)
        }
        let rc = transaction.commit()
        if rc == MDB_MAP_FULL { return .mapFull(observedMapSize: observedMapSize) }
        guard rc == 0 else { throw diagnosedWriteFailure(StorageError.lmdbError(rc, "mdb_txn_commit")) }
        return .committed(result)
    }

    /// `error`, or `StorageError.noSpace` when it is LMDB failing to write pages for lack of space.
    ///
    /// LMDB turns a short write into `EIO`, and a write that crosses the file-size limit (`ulimit -f`) or fills the
    /// disk is short, so an `EIO` counts as lack of space when the data file has reached the limit or less than
    /// 1 MiB is free; any other `EIO` stays an I/O error.
    func diagnosedWriteFailure(_ error: any Error) -> any Error {
        guard case .lmdb(let code, _, let operation)? = error as? StorageError,
            code == ENOSPC || code == EDQUOT || code == EFBIG || code == EIO
        else { return error }
        let free = freeDiskBytes()
        let limit = Self.fileSizeLimit()
        let atLimit = limit.map { limit in dataFileBytes().map { $0 >= limit } ?? false } ?? false
        let diskFull = free.map { $0 < 1 << 20 } ?? false
        switch code {
        case EFBIG,
            EIO where atLimit:
            return StorageError.noSpace(
                path: path, operation: operation, code: code, freeDiskBytes: free, fileSizeLimit: limit)
        case ENOSPC, EDQUOT,
            EIO where diskFull:
            return StorageError.noSpace(
                path: path, operation: operation, code: code, freeDiskBytes: free, fileSizeLimit: nil)
        default:
            return error
        }
    }

    /// The size of the store's data file, nil if it cannot be read.
    func dataFileBytes() -> Int? { fileSize(path + "/data.mdb") }

    /// This process's limit on the size of any file it writes (`RLIMIT_FSIZE`, `ulimit -f`), nil when unlimited.
    static func fileSizeLimit() -> Int? {
        var limit = rlimit()
        #if os(Linux)
            let rc = getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        #else
            let rc = getrlimit(RLIMIT_FSIZE, &limit)
        #endif
        guard rc == 0, limit.rlim_cur < rlim_t(Int.max) else { return nil }
        return Int(limit.rlim_cur)
    }

    private func enterScope() throws {
        guard !scope.isSet else { throw StorageError.nestedTransaction }
        scope.set()
    }

    /// Begins an LMDB transaction and returns it with `resizeLock` held shared; the caller unlocks.
    private func begin(write: Bool) throws -> OpaquePointer {
        var clearedReaders = false
        while true {
            resizeLock.lockShared()
            if let poison {
                resizeLock.unlock()
                throw poison
            }
            var txn: OpaquePointer?
            let rc: Int32
            if write {
                rc = mdb_txn_begin(env, nil, 0, &txn)
            } else {
                handleLock.lock()
                rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
                handleLock.unlock()
            }
            if rc == 0, let txn { return txn }
            resizeLock.unlock()
            if rc == MDB_MAP_RESIZED {
                try adoptMapSize()
                continue
            }
            if rc == MDB_READERS_FULL, !clearedReaders {
                clearedReaders = true
                if try clearStaleReaders() > 0 { continue }
            }
            throw StorageError.lmdbError(rc, write ? "mdb_txn_begin(write)" : "mdb_txn_begin(read)")
        }
    }

    // MARK: Map size

    /// Grows the map after a write transaction found it full at `observed` bytes.
    private func growMap(from observed: Int) throws {
        resizeLock.lockExclusive()
        defer { resizeLock.unlock() }
        if let poison { throw poison }
        // Another writer of this process may have grown it while this one waited for the lock.
        if mapSize > observed { return }
        let limit = options.maxMapSize / osPageSize * osPageSize
        guard observed < limit else {
            throw StorageError.mapFullCannotGrow(
                mapSize: observed, maxMapSize: options.maxMapSize, path: path, freeDiskBytes: freeDiskBytes())
        }
        let target = observed > limit / 2 ? limit : observed * 2
        try setMapSize(target)
        options.logger.info(
            "map grown",
            metadata: [
                "storage.path": "\(path)", "storage.map_size": "\(mapSize)",
                "storage.previous_map_size": "\(observed)",
            ])
    }

    /// Adopts the map size another process set (after `MDB_MAP_RESIZED`).
    private func adoptMapSize() throws {
        resizeLock.lockExclusive()
        defer { resizeLock.unlock() }
        if let poison { throw poison }
        let previous = mapSize
        try setMapSize(0)
        options.logger.info(
            "adopted map size set by another process",
            metadata: [
                "storage.path": "\(path)", "storage.map_size": "\(mapSize)",
                "storage.previous_map_size": "\(previous)",
            ])
    }

    /// Calls `mdb_env_set_mapsize`; `resizeLock` must be held exclusively.
    private func setMapSize(_ size: Int) throws {
        let rc = mdb_env_set_mapsize(env, size)
        guard rc == 0 else {
            let error = StorageError.lmdbError(rc, "mdb_env_set_mapsize(\(size))")
            // Past its argument checks, a failure leaves LMDB without a mapping: nothing may touch the store now.
            if rc != EINVAL { poison = error }
            throw error
        }
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        mapSize = info.me_mapsize
    }

    /// Free bytes for unprivileged users on the file system holding the store (`statvfs`), nil if unknown.
    public func freeDiskBytes() -> Int? {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        return Int(fs.f_bavail) * Int(fs.f_frsize)
    }

    // MARK: Table handles

    /// The handle of `name` if one was exported to the environment.
    func cachedHandle(_ name: String) -> MDB_dbi? {
        handleLock.withLock { handles[name] }
    }

    /// Renews a reset read transaction, under `handleLock` like `begin`.
    func renew(_ txn: OpaquePointer) -> Int32 {
        handleLock.withLock { mdb_txn_renew(txn) }
    }

    /// Commits a write transaction; handles it opened become available to later transactions.
    func commit(_ txn: OpaquePointer, created: [(name: String, dbi: MDB_dbi)]) -> Int32 {
        if created.isEmpty { return mdb_txn_commit(txn) }
        handleLock.lock()
        defer { handleLock.unlock() }
        let rc = mdb_txn_commit(txn)
        if rc == 0 {
            for entry in created { handles[entry.name] = entry.dbi }
        }
        return rc
    }

    /// Opens the handle of a table that another process created after this environment was opened, so that
    /// transactions begun afterwards can use it. Called from a read transaction, which holds `resizeLock` shared.
    ///
    /// LMDB forbids opening handles in two transactions at once, and a handle opened in a transaction is usable
    /// only by transactions begun after that one ends. Handles are therefore opened in a short transaction of
    /// their own: a write transaction (serialized with this process's writers, which also open handles) or, in a
    /// read-only environment where nothing else opens handles, a read transaction under `handleLock`.
    func openHandle(createdElsewhere name: String) throws {
        if options.readOnly {
            handleLock.lock()
            defer { handleLock.unlock() }
            if handles[name] != nil { return }
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
            guard rc == 0, let txn else { throw StorageError.lmdbError(rc, "mdb_txn_begin(read)") }
            var dbi: MDB_dbi = 0
            let openRC = name.withCString { mdb_dbi_open(txn, $0, 0, &dbi) }
            guard openRC == 0 else {
                mdb_txn_abort(txn)
                throw StorageError.lmdbError(openRC, "mdb_dbi_open(\(name))")
            }
            let commitRC = mdb_txn_commit(txn)
            guard commitRC == 0 else { throw StorageError.lmdbError(commitRC, "mdb_txn_commit") }
            handles[name] = dbi
        } else {
            if cachedHandle(name) != nil { return }
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, 0, &txn)
            guard rc == 0, let txn else { throw StorageError.lmdbError(rc, "mdb_txn_begin(write)") }
            var dbi: MDB_dbi = 0
            let openRC = name.withCString { mdb_dbi_open(txn, $0, 0, &dbi) }
            guard openRC == 0 else {
                mdb_txn_abort(txn)
                throw StorageError.lmdbError(openRC, "mdb_dbi_open(\(name))")
            }
            let commitRC = commit(txn, created: [(name, dbi)])
            guard commitRC == 0 else { throw StorageError.lmdbError(commitRC, "mdb_txn_commit") }
        }
    }

    // MARK: Maintenance

    /// Information about the environment: map size, page size, last page and transaction, reader slots.
    ///
    /// May be called anywhere, also inside a transaction. Throws `StorageError.lmdb` if LMDB fails.
    public func info() throws -> EnvironmentInfo {
        let lock = !scope.isSet
        if lock { resizeLock.lockShared() }
        defer { if lock { resizeLock.unlock() } }
        if let poison { throw poison }
        var info = MDB_envinfo()
        var stat = MDB_stat()
        let infoRC = mdb_env_info(env, &info)
        guard infoRC == 0 else { throw StorageError.lmdbError(infoRC, "mdb_env_info") }
        let statRC = mdb_env_stat(env, &stat)
        guard statRC == 0 else { throw StorageError.lmdbError(statRC, "mdb_env_stat") }
        return EnvironmentInfo(
            mapSize: info.me_mapsize, pageSize: Int(stat.ms_psize), lastPageNumber: info.me_last_pgno,
            lastTransactionID: info.me_last_txnid, maxReaders: Int(info.me_maxreaders),
            readersUsed: Int(info.me_numreaders))
    }

    /// Statistics of the table `name`, or nil if it does not exist.
    ///
    /// Runs its own read transaction: throws `StorageError.nestedTransaction` inside a transaction (use
    /// `ReadTransaction.stat(table:)` there), and `StorageError.lmdb` if LMDB fails.
    public func stat(table name: String) throws -> TableStat? {
        try read { try $0.stat(table: name) }
    }

    /// The names of the tables in the store, in byte order (the keys of LMDB's main database).
    ///
    /// Runs its own read transaction: throws `StorageError.nestedTransaction` inside a transaction (use
    /// `ReadTransaction.tableNames()` there), and `StorageError.lmdb` if LMDB fails.
    public func tableNames() throws -> [String] {
        try read { try $0.tableNames() }
    }

    /// Writes a consistent copy of the store into the directory `path` (`mdb_env_copy2`), while others keep
    /// reading and writing.
    ///
    /// The directory is created if missing and must not hold a `data.mdb` yet; the copy has no lock file until it
    /// is opened. With `compact`, free pages are left out and pages renumbered (`MDB_CP_COMPACT`): smaller, slower.
    /// Map growth waits until the copy is done.
    ///
    /// Throws `StorageError.nestedTransaction` inside a transaction of this environment on the same thread and
    /// `StorageError.lmdb` if LMDB fails (e.g. `EEXIST` when the target holds a store).
    public func copy(to path: String, compact: Bool) throws {
        try enterScope()
        defer { scope.clear() }
        try Self.createDirectories(path)
        resizeLock.lockShared()
        defer { resizeLock.unlock() }
        if let poison { throw poison }
        let rc = mdb_env_copy2(env, path, compact ? UInt32(MDB_CP_COMPACT) : 0)
        guard rc == 0 else { throw StorageError.lmdbError(rc, "mdb_env_copy2(\(path))") }
    }

    /// Frees reader slots of processes that died inside a read transaction (`mdb_reader_check`), and returns
    /// how many were freed. Stale slots pin old pages and make the store grow; `init` does this too.
    ///
    /// Throws `StorageError.lmdb` if LMDB fails.
    @discardableResult
    public func clearStaleReaders() throws -> Int {
        var dead: Int32 = 0
        let rc = mdb_reader_check(env, &dead)
        guard rc == 0 else { throw StorageError.lmdbError(rc, "mdb_reader_check") }
        if dead > 0 {
            options.logger.info(
                "cleared stale readers", metadata: ["storage.path": "\(path)", "storage.stale_readers": "\(dead)"])
        }
        return Int(dead)
    }

    /// Flushes committed data to disk (`mdb_env_sync`), for the `.noMetaSync` and `.noSync` durabilities.
    ///
    /// Throws `StorageError.readOnly` for a read-only environment and `StorageError.lmdb` if the flush fails.
    public func sync() throws {
        guard !options.readOnly else { throw StorageError.readOnly }
        let rc = mdb_env_sync(env, 1)
        guard rc == 0 else { throw StorageError.lmdbError(rc, "mdb_env_sync") }
    }

    /// The flags LMDB runs the environment with (`mdb_env_get_flags`).
    var flags: UInt32 {
        var flags: UInt32 = 0
        mdb_env_get_flags(env, &flags)
        return flags
    }

    // MARK: Opening

    private struct Opened {
        var env: OpaquePointer
        var mainDBI: MDB_dbi
        var handles: [String: MDB_dbi]
        var mapSize: Int
        var maxKeySize: Int
        var osPageSize: Int
        var staleReaders: Int
    }

    private static func open(path: String, options: Options) throws -> Opened {
        if !options.readOnly { try createDirectories(path) }
        var created: OpaquePointer?
        let createRC = mdb_env_create(&created)
        guard createRC == 0, let env = created else { throw StorageError.lmdbError(createRC, "mdb_env_create") }
        do {
            let osPageSize = max(sysconf(Int32(_SC_PAGESIZE)), 4096)
            try check(mdb_env_set_maxdbs(env, MDB_dbi(clamping: options.maxTables)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, UInt32(clamping: options.maxReaders)), "mdb_env_set_maxreaders")
            let initialMapSize = roundUp(max(min(options.initialMapSize, options.maxMapSize), 1), to: osPageSize)
            if !options.readOnly {
                try check(mdb_env_set_mapsize(env, initialMapSize), "mdb_env_set_mapsize")
            }
            var flags = UInt32(MDB_NOTLS)
            switch options.durability {
            case .full: break
            case .noMetaSync: flags |= UInt32(MDB_NOMETASYNC)
            case .noSync: flags |= UInt32(MDB_NOSYNC)
            }
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open(\(path))")

            if !options.readOnly {
                // Adopt the size the store was last grown to, but never start below the configured size.
                try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize")
                if currentMapSize(env) < initialMapSize {
                    try check(mdb_env_set_mapsize(env, initialMapSize), "mdb_env_set_mapsize")
                }
            }

            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "mdb_reader_check")
            let (mainDBI, handles) = try openTables(env)
            return Opened(
                env: env, mainDBI: mainDBI, handles: handles, mapSize: currentMapSize(env),
                maxKeySize: Int(mdb_env_get_maxkeysize(env)), osPageSize: osPageSize, staleReaders: Int(dead))
        } catch {
            mdb_env_close(env)
            throw error
        }
    }

    /// Opens the main database and every table in it, in one read transaction committed so that the handles stay
    /// open for all later transactions.
    private static func openTables(_ env: OpaquePointer) throws -> (MDB_dbi, [String: MDB_dbi]) {
        var begun: OpaquePointer?
        var rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &begun)
        if rc == MDB_MAP_RESIZED {
            try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize")
            rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &begun)
        }
        guard rc == 0, let txn = begun else { throw StorageError.lmdbError(rc, "mdb_txn_begin(read)") }
        var committed = false
        defer { if !committed { mdb_txn_abort(txn) } }

        var mainDBI: MDB_dbi = 0
        try check(mdb_dbi_open(txn, nil, 0, &mainDBI), "mdb_dbi_open(main)")
        var names: [String] = []
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, mainDBI, &cursor), "mdb_cursor_open(main)")
        var key = MDB_val()
        var value = MDB_val()
        var op = MDB_FIRST
        while true {
            let getRC = mdb_cursor_get(cursor, &key, &value, op)
            if getRC == MDB_NOTFOUND { break }
            guard getRC == 0 else {
                mdb_cursor_close(cursor)
                throw StorageError.lmdbError(getRC, "mdb_cursor_get(main)")
            }
            let bytes = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
            if let name = try? String(storageBytes: bytes), !bytes.contains(0) { names.append(name) }
            op = MDB_NEXT
        }
        mdb_cursor_close(cursor)

        var handles: [String: MDB_dbi] = [:]
        for name in names {
            var dbi: MDB_dbi = 0
            let openRC = name.withCString { mdb_dbi_open(txn, $0, 0, &dbi) }
            // A key of the main database that is not a table (MDB_INCOMPATIBLE) is no business of ours.
            if openRC == MDB_INCOMPATIBLE { continue }
            try check(openRC, "mdb_dbi_open(\(name))")
            handles[name] = dbi
        }
        committed = true
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
        return (mainDBI, handles)
    }

    private static func currentMapSize(_ env: OpaquePointer) -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return info.me_mapsize
    }

    private static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
        guard rc == 0 else { throw StorageError.lmdbError(rc, operation()) }
    }

    private static func roundUp(_ value: Int, to multiple: Int) -> Int {
        let (sum, overflow) = value.addingReportingOverflow(multiple - 1)
        return overflow ? Int.max / multiple * multiple : sum / multiple * multiple
    }

    /// Creates `path` and its missing parents, like `mkdir -p`.
    static func createDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 {
                let code = errno
                guard code == EEXIST else { throw StorageError.lmdbError(code, "mkdir(\(prefix))") }
            }
        }
    }
}

/// The size of the file at `path`, nil if it cannot be read.
private func fileSize(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_size)
}
