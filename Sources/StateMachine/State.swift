import Primitives
import StateTree

/// Committed state a block executes on. The state machine is written once against this interface;
/// its two backends are the stored tree (nodes) and a witness (stateless execution on the L1).
public protocol StateReader {
    /// The value under `key`, or nil when absent. Throws when the backend cannot tell (a witness
    /// that does not cover the key, a damaged store).
    func value(at key: Hash) throws -> [UInt8]?
}

/// The stored tree at a version (nil: the empty state before genesis).
public struct TreeStateReader: StateReader {
    public let tree: StateTree
    public let version: Version?

    public init(tree: StateTree, version: Version?) {
        self.tree = tree
        self.version = version
    }

    public func value(at key: Hash) throws -> [UInt8]? {
        guard let version else { return nil }
        return try tree.get(key, at: version)
    }
}

/// A verified witness: reads only the keys it covers.
public struct WitnessStateReader: StateReader {
    public let tree: WitnessTree

    public init(_ tree: WitnessTree) { self.tree = tree }

    public func value(at key: Hash) throws -> [UInt8]? { try tree.get(key) }
}

/// A block's working state: reads fall through to the base until a key is written; writes stay
/// here. Records every key read or written — the key set of the block's witness.
public final class StateOverlay {
    private let base: any StateReader
    private var written: [Hash: [UInt8]?] = [:]
    private var touched: Set<Hash> = []
    /// Messages appended to the outbox, in order.
    public internal(set) var emitted: [Message] = []

    public init(base: any StateReader) { self.base = base }

    /// The current value of `key`.
    public func get(_ key: Hash) throws -> [UInt8]? {
        touched.insert(key)
        if let value = written[key] { return value }
        return try base.value(at: key)
    }

    /// Sets `key` (nil deletes it).
    public func set(_ key: Hash, _ value: [UInt8]?) {
        touched.insert(key)
        written[key] = .some(value)
    }

    /// The writes in key order: the deterministic input of the state-tree update.
    public var writes: [(key: Hash, value: [UInt8]?)] {
        written.keys.sorted().map { ($0, written[$0]!) }
    }

    /// Every key read or written, in key order.
    public var touchedKeys: [Hash] { touched.sorted() }
}
