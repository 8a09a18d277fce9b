import Primitives
import Storage

// The state tree's tables (see docs/state-tree.md and docs/architecture.md's table map):
//
//   state_nodes   NodeKey (version || nibble path)      -> Node
//   state_values  StateValueKey (version || key hash)   -> value bytes
//   state_stale   stale-since version (u64 BE)          -> StaleEntries (every node and value it retired)
//   state_roots   version (u64 BE)                      -> RootRecord
//
// Every key a version writes starts with that version, so one block's writes append at the end of
// each table (MDB_APPEND) instead of splitting pages all over the B-tree.

/// Node key -> node: every node of every retained version.
public enum StateNodes: Table {
    public static let name = "state_nodes"
    public typealias Key = NodeKey
    public typealias Value = Node
}

/// (version, key hash) -> value: each value under the version that wrote it.
public enum StateValues: Table {
    public static let name = "state_values"
    public typealias Key = StateValueKey
    public typealias Value = [UInt8]
}

/// Version -> the nodes and values that version retired: what pruning may delete once no retained
/// root needs them. One record per version keeps a block's bookkeeping to a single append.
public enum StateStale: Table {
    public static let name = "state_stale"
    public typealias Key = UInt64
    public typealias Value = StaleEntries
}

/// Version -> root record.
public enum StateRoots: Table {
    public static let name = "state_roots"
    public typealias Key = UInt64
    public typealias Value = RootRecord
}

/// The key of a stored value: `version (8 bytes BE) || key hash (32)`.
public struct StateValueKey: Hashable, Sendable, StorageCodable {
    public var version: Version
    public var key: Hash

    public init(version: Version, key: Hash) {
        self.version = version
        self.key = key
    }

    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var raw = (version.bigEndian, key.w0.bigEndian, key.w1.bigEndian, key.w2.bigEndian, key.w3.bigEndian)
        return try withUnsafeBytes(of: &raw) { try body($0) }
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard raw.count == 40 else { throw StateTreeError.corrupt("state value key of \(raw.count) bytes") }
        version = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        key = Hash(unchecked: UnsafeRawBufferPointer(rebasing: raw[8..<40]))
    }
}

/// The nodes and values one version retired.
///
/// Encoding: a sequence of entries, each `0x00 || node key` (self-delimiting: its nibble count
/// gives its length) or `0x01 || value key (40 bytes)`.
public struct StaleEntries: Hashable, Sendable, StorageCodable {
    public enum Entry: Hashable, Sendable {
        case node(NodeKey)
        case value(StateValueKey)
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let capacity = entries.count * (1 + NodeKey.maxEncodedCount)
        return try withUnsafeTemporaryAllocation(byteCount: max(capacity, 1), alignment: 8) { buffer in
            let base = buffer.baseAddress!
            var offset = 0
            for entry in entries {
                switch entry {
                case .node(let key):
                    base.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
                    offset += 1 + key.write(to: base + offset + 1)
                case .value(let key):
                    base.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self)
                    key.withStorageBytes { (base + offset + 1).copyMemory(from: $0.baseAddress!, byteCount: 40) }
                    offset += 41
                }
            }
            return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<offset]))
        }
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        var entries: [Entry] = []
        var offset = 0
        while offset < raw.count {
            let kind = raw[offset]
            offset += 1
            switch kind {
            case 0:
                guard offset + 9 <= raw.count else { throw StateTreeError.corrupt("stale node key truncated") }
                let length = 9 + (Int(raw[offset + 8]) + 1) / 2
                guard offset + length <= raw.count else { throw StateTreeError.corrupt("stale node key truncated") }
                entries.append(
                    .node(try NodeKey(encoded: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)]))))
                offset += length
            case 1:
                guard offset + 40 <= raw.count else { throw StateTreeError.corrupt("stale value key truncated") }
                entries.append(
                    .value(
                        try StateValueKey(storageBytes: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 40)]))))
                offset += 40
            default:
                throw StateTreeError.corrupt("stale entry kind \(kind)")
            }
        }
        self.entries = entries
    }
}

extension NodeKey: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withEncoded(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws { try self.init(encoded: raw) }
}

extension Node: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withEncoded(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws { try self.init(encoded: raw) }
}

extension RootRecord: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try encoded.withUnsafeBytes(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws { try self.init(encoded: raw) }
}

/// Reads the state tree from an LMDB transaction (a write transaction reads its own writes).
public struct LMDBTreeReader: TreeReader {
    public let transaction: ReadTransaction

    public init(_ transaction: ReadTransaction) { self.transaction = transaction }

    public func node(_ key: NodeKey) throws -> Node? {
        try transaction.get(StateNodes.self, key)
    }

    public func value(key: Hash, version: Version) throws -> [UInt8]? {
        try transaction.get(StateValues.self, StateValueKey(version: version, key: key))
    }

    public func root(at version: Version) throws -> RootRecord? {
        try transaction.get(StateRoots.self, version)
    }

    public func latestVersion() throws -> Version? {
        var latest: Version?
        try transaction.forEach(StateRoots.self, reverse: true) { version, _ in
            latest = version
            return false
        }
        return latest
    }
}

/// Commits and prunes the state tree in an LMDB store.
public enum LMDBTreeStore {
    /// What a pruning pass deleted.
    public struct PruneResult: Sendable, Equatable {
        public var nodes = 0
        public var values = 0
        public var roots = 0
        /// Whether stale entries older than the limit remain (call again to continue).
        public var more = false
    }

    /// Writes a batch in `transaction`: its nodes, values, stale entries and root. All keys carry
    /// the batch's version, which exceeds every stored one, so they are appended in order.
    public static func write(_ batch: TreeUpdateBatch, in transaction: WriteTransaction) throws {
        for (key, node) in batch.newNodes {
            try transaction.put(StateNodes.self, key, node, append: true)
        }
        for (key, value) in batch.newValues {
            try transaction.put(StateValues.self, StateValueKey(version: batch.version, key: key), value, append: true)
        }
        if !batch.staleNodes.isEmpty || !batch.staleValues.isEmpty {
            let entries =
                batch.staleNodes.map { StaleEntries.Entry.node($0) }
                + batch.staleValues.map { .value(StateValueKey(version: $0.version, key: $0.key)) }
            try transaction.put(StateStale.self, batch.version, StaleEntries(entries), append: true)
        }
        try transaction.put(StateRoots.self, batch.version, batch.root, append: true)
    }

    /// Deletes what only versions before `version` need: stale nodes and values retired at or before
    /// `version`, and the roots of earlier versions. Roots from `version` on, and every proof
    /// against them, stay whole. Whole versions' records are handled until more than `limit` entries
    /// have been deleted, so a long backlog is pruned in bounded transactions (`more` says whether
    /// to call again).
    public static func prune(
        before version: Version, in transaction: WriteTransaction, limit: Int = 100_000
    ) throws -> PruneResult {
        var result = PruneResult()
        var records: [(Version, StaleEntries)] = []
        var entries = 0
        try transaction.forEach(StateStale.self) { since, stale in
            guard since <= version else { return false }
            guard entries < limit else {
                result.more = true
                return false
            }
            records.append((since, stale))
            entries += stale.entries.count
            return true
        }
        for (since, stale) in records {
            for entry in stale.entries {
                switch entry {
                case .node(let node):
                    if try transaction.delete(StateNodes.self, node) { result.nodes += 1 }
                case .value(let value):
                    if try transaction.delete(StateValues.self, value) { result.values += 1 }
                }
            }
            try transaction.delete(StateStale.self, since)
        }
        var oldRoots: [Version] = []
        try transaction.forEach(StateRoots.self) { v, _ in
            guard v < version else { return false }
            oldRoots.append(v)
            return true
        }
        for v in oldRoots where try transaction.delete(StateRoots.self, v) { result.roots += 1 }
        return result
    }
}

/// Readers for parallel updates over an LMDB store: each worker runs its own read transaction.
/// Use it for an update computed inside a write transaction that has not yet written the state
/// tables' base version (it never has: that version was committed by an earlier block).
public struct LMDBTreeReaderProvider: TreeReaderProvider {
    public let environment: Environment

    public init(_ environment: Environment) { self.environment = environment }

    public func withReader(_ body: (any TreeReader) throws -> Void) throws {
        try environment.read { try body(LMDBTreeReader($0)) }
    }
}
