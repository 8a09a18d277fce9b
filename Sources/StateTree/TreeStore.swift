import Primitives

/// The root of one version: its commitment and where its root node is stored.
public struct RootRecord: Hashable, Sendable {
    /// The root's commitment; `TreeHash.empty` for an empty tree.
    public var hash: Hash
    /// The root node as a child reference (its key is `(version, root path)`); nil for an empty tree.
    public var node: Child?

    public init(node: Child?) {
        self.node = node
        self.hash = node?.hash ?? TreeHash.empty
    }

    /// The canonical encoding: `0x00` for the empty tree, else `0x01 || node version || hash`.
    public var encoded: [UInt8] {
        guard let node else { return [0] }
        var out: [UInt8] = [1]
        withUnsafeBytes(of: node.version.bigEndian) { out.append(contentsOf: $0) }
        node.hash.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }

    public init(encoded raw: UnsafeRawBufferPointer) throws(StateTreeError) {
        if raw.count == 1, raw[0] == 0 {
            self.init(node: nil)
            return
        }
        guard raw.count == 41, raw[0] == 1 else { throw .corrupt("root record of \(raw.count) bytes") }
        let version = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        let hash = Hash(unchecked: UnsafeRawBufferPointer(rebasing: raw[9..<41]))
        guard hash != .zero else { throw .corrupt("root record with an empty hash") }
        self.init(node: Child(hash: hash, version: version, isLeaf: TreeHash.isLeaf(hash)))
    }
}

/// Read access to stored nodes, values and roots. The tree never writes: updates produce a
/// `TreeUpdateBatch` for the storage layer to commit.
public protocol TreeReader {
    /// The node stored under `key`, or nil.
    func node(_ key: NodeKey) throws -> Node?
    /// The value of `key` written at `version`, or nil.
    func value(key: Hash, version: Version) throws -> [UInt8]?
    /// The root recorded for `version`, or nil if none is.
    func root(at version: Version) throws -> RootRecord?
    /// The newest version with a recorded root, or nil for a store with none.
    func latestVersion() throws -> Version?
}

/// Supplies readers for a parallel update: one per worker thread, each over a snapshot that holds
/// the update's base version.
public protocol TreeReaderProvider: Sendable {
    /// Runs `body` on the calling thread with a reader that stays valid until `body` returns.
    func withReader(_ body: (any TreeReader) throws -> Void) throws
}

/// Everything one version's update writes and retires, for the storage layer to commit atomically.
public struct TreeUpdateBatch: Sendable {
    /// The version written.
    public var version: Version
    /// The new root.
    public var root: RootRecord
    /// New nodes, sorted by encoded key (all carry `version`, so they sort after every stored key).
    public var newNodes: [(key: NodeKey, node: Node)]
    /// New values, sorted by key hash, all stored under `version`.
    public var newValues: [(key: Hash, value: [UInt8])]
    /// Nodes no longer reachable from the new root: stale since `version`.
    public var staleNodes: [NodeKey]
    /// Values no longer referenced by the new root, as `(key hash, version they were written at)`.
    public var staleValues: [(key: Hash, version: Version)]

    /// The new root's commitment.
    public var rootHash: Hash { root.hash }
}

/// A tree store held in memory: for tests, tools and the reference runs of benchmarks.
public final class MemoryTreeStore: TreeReader, @unchecked Sendable {
    public private(set) var nodes: [NodeKey: Node] = [:]
    public private(set) var values: [ValueKey: [UInt8]] = [:]
    public private(set) var roots: [Version: RootRecord] = [:]
    /// Stale entries in the order they were recorded: `(stale since, node or value)`.
    private var stale: [(Version, StaleEntry)] = []

    /// A value's storage key.
    public struct ValueKey: Hashable, Sendable {
        public var key: Hash
        public var version: Version
    }

    enum StaleEntry {
        case node(NodeKey)
        case value(ValueKey)
    }

    public init() {}

    /// Readers for parallel updates: the store itself (reads only; do not `apply` meanwhile).
    public var parallelReaders: any TreeReaderProvider { MemoryReaders(store: self) }

    struct MemoryReaders: TreeReaderProvider {
        let store: MemoryTreeStore
        func withReader(_ body: (any TreeReader) throws -> Void) throws { try body(store) }
    }

    public func node(_ key: NodeKey) throws -> Node? { nodes[key] }

    public func value(key: Hash, version: Version) throws -> [UInt8]? {
        values[ValueKey(key: key, version: version)]
    }

    public func root(at version: Version) throws -> RootRecord? { roots[version] }

    public func latestVersion() throws -> Version? { roots.keys.max() }

    /// Stores a batch.
    public func apply(_ batch: TreeUpdateBatch) {
        for (key, node) in batch.newNodes { nodes[key] = node }
        for (key, value) in batch.newValues { values[ValueKey(key: key, version: batch.version)] = value }
        for key in batch.staleNodes { stale.append((batch.version, .node(key))) }
        for (key, version) in batch.staleValues {
            stale.append((batch.version, .value(ValueKey(key: key, version: version))))
        }
        roots[batch.version] = batch.root
    }

    /// Deletes everything only versions before `version` need; roots from `version` on stay whole.
    public func prune(before version: Version) {
        var kept: [(Version, StaleEntry)] = []
        for (since, entry) in stale {
            guard since <= version else {
                kept.append((since, entry))
                continue
            }
            switch entry {
            case .node(let key): nodes[key] = nil
            case .value(let key): values[key] = nil
            }
        }
        stale = kept
        for v in roots.keys where v < version { roots[v] = nil }
    }
}
