import Primitives
import Storage

// The state tree's tables (see docs/state-tree.md and docs/architecture.md's table map):
//
//   state_nodes   NodeKey (version || nibble path)      -> Node
//   state_values  StateValueKey (version || key hash)   -> value bytes
//   state_stale   StaleKey (stale since || kind || key) -> empty
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

/// (stale since, node or value key) -> nothing: what pruning may delete once no retained root needs it.
public enum StateStale: Table {
    public static let name = "state_stale"
    public typealias Key = StaleKey
    public typealias Value = [UInt8]
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

/// The key of a stale entry: `stale since (8 bytes BE) || kind (0 node, 1 value) || node key or value key`.
public struct StaleKey: Hashable, Sendable, StorageCodable {
    public enum Entry: Hashable, Sendable {
        case node(NodeKey)
        case value(StateValueKey)
    }

    public var staleSince: Version
    public var entry: Entry

    public init(staleSince: Version, entry: Entry) {
        self.staleSince = staleSince
        self.entry = entry
    }

    /// Calls `body` with the encoded key, built on the stack.
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(byteCount: 9 + max(NodeKey.maxEncodedCount, 40), alignment: 8) { buffer in
            let out = buffer.baseAddress!
            out.storeBytes(of: staleSince.bigEndian, as: UInt64.self)
            var count = 9
            switch entry {
            case .node(let key):
                out.storeBytes(of: 0, toByteOffset: 8, as: UInt8.self)
                count += key.write(to: out + 9)
            case .value(let key):
                out.storeBytes(of: 1, toByteOffset: 8, as: UInt8.self)
                key.withStorageBytes { (out + 9).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                count += 40
            }
            return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<count]))
        }
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard raw.count >= 9 else { throw StateTreeError.corrupt("stale key of \(raw.count) bytes") }
        staleSince = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let rest = UnsafeRawBufferPointer(rebasing: raw[9...])
        switch raw[8] {
        case 0: entry = .node(try NodeKey(encoded: rest))
        case 1: entry = .value(try StateValueKey(storageBytes: rest))
        case let kind: throw StateTreeError.corrupt("stale entry kind \(kind)")
        }
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
        // Stale keys sort by (kind, then the node or value key): nodes by (version, depth, prefix),
        // values by (version, key hash) — the order of their encodings.
        let nodes = batch.staleNodes.sorted {
            ($0.version, $0.path.count) != ($1.version, $1.path.count)
                ? ($0.version, $0.path.count) < ($1.version, $1.path.count) : $0.path.prefix < $1.path.prefix
        }
        for key in nodes {
            try transaction.put(StateStale.self, StaleKey(staleSince: batch.version, entry: .node(key)), [], append: true)
        }
        let values = batch.staleValues.sorted { $0.version != $1.version ? $0.version < $1.version : $0.key < $1.key }
        for (key, version) in values {
            let entry = StaleKey.Entry.value(StateValueKey(version: version, key: key))
            try transaction.put(StateStale.self, StaleKey(staleSince: batch.version, entry: entry), [], append: true)
        }
        try transaction.put(StateRoots.self, batch.version, batch.root, append: true)
    }

    /// Deletes what only versions before `version` need: stale nodes and values retired at or before
    /// `version`, and the roots of earlier versions. Roots from `version` on, and every proof
    /// against them, stay whole. At most `limit` stale entries are handled per call, so a long
    /// backlog is pruned in bounded transactions.
    public static func prune(before version: Version, in transaction: WriteTransaction, limit: Int = 100_000) throws
        -> PruneResult
    {
        var result = PruneResult()
        var handled: [StaleKey] = []
        try transaction.forEach(StateStale.self) { key, _ in
            guard key.staleSince <= version else { return false }
            guard handled.count < limit else {
                result.more = true
                return false
            }
            handled.append(key)
            return true
        }
        for key in handled {
            switch key.entry {
            case .node(let node):
                if try transaction.delete(StateNodes.self, node) { result.nodes += 1 }
            case .value(let value):
                if try transaction.delete(StateValues.self, value) { result.values += 1 }
            }
            _ = try transaction.delete(StateStale.self, key)
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
