/// A named LMDB sub-database with typed keys and values.
///
/// Declare each table once, as a caseless enum:
///
///     /// Height -> header, the primary source for headers.
///     enum HeaderByHeight: Table {
///         static let name = "header_by_height"
///         typealias Key = UInt64
///         typealias Value = [UInt8]
///     }
///
/// The name is the sub-database's name in the store, as `mdb_stat -a` and `mdb_dump -s` show it. A table is
/// created by the first write transaction that uses it; read transactions see a table that does not exist yet as
/// empty. Two table types with the same name refer to the same sub-database.
public protocol Table {
    /// The key type; its byte order is the table's iteration order.
    associatedtype Key: StorageCodable
    /// The value type.
    associatedtype Value: StorageCodable
    /// The sub-database's name: non-empty, without NUL bytes, and stable across releases.
    static var name: String { get }
}

/// Information about an environment, from `mdb_env_info` and `mdb_env_stat`.
public struct EnvironmentInfo: Sendable, Equatable, Codable {
    /// Size of the memory map in bytes: the current upper bound of the data file.
    public var mapSize: Int
    /// Size of a database page in bytes.
    public var pageSize: Int
    /// Number of the last page in use; `lastPageNumber + 1` pages are used.
    public var lastPageNumber: Int
    /// ID of the last committed write transaction.
    public var lastTransactionID: Int
    /// Number of slots in the reader table.
    public var maxReaders: Int
    /// Reader table slots used so far (a high-water mark, as `mdb_stat -e` prints it, not the live readers).
    public var readersUsed: Int

    /// Creates an info value; the environment fills these in.
    public init(
        mapSize: Int, pageSize: Int, lastPageNumber: Int, lastTransactionID: Int, maxReaders: Int, readersUsed: Int
    ) {
        self.mapSize = mapSize
        self.pageSize = pageSize
        self.lastPageNumber = lastPageNumber
        self.lastTransactionID = lastTransactionID
        self.maxReaders = maxReaders
        self.readersUsed = readersUsed
    }
}

/// Statistics of one table's B-tree, from `mdb_stat`.
public struct TableStat: Sendable, Equatable, Codable {
    /// Size of a database page in bytes.
    public var pageSize: Int
    /// Depth of the B-tree.
    public var depth: Int
    /// Number of internal (non-leaf) pages.
    public var branchPages: Int
    /// Number of leaf pages.
    public var leafPages: Int
    /// Number of overflow pages, which hold values too large for a leaf page.
    public var overflowPages: Int
    /// Number of entries.
    public var entries: Int

    /// Bytes the table occupies: all its pages.
    public var bytes: Int { (branchPages + leafPages + overflowPages) * pageSize }

    /// Creates a stat value; the environment fills these in.
    public init(pageSize: Int, depth: Int, branchPages: Int, leafPages: Int, overflowPages: Int, entries: Int) {
        self.pageSize = pageSize
        self.depth = depth
        self.branchPages = branchPages
        self.leafPages = leafPages
        self.overflowPages = overflowPages
        self.entries = entries
    }
}
