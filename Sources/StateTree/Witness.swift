import Primitives

/// One node of a witness: a binary partial tree in which the paths of the witnessed keys are
/// expanded and everything else is summarised by its commitment.
public indirect enum WitnessNode: Hashable, Sendable {
    /// The empty subtree.
    case empty
    /// A non-empty subtree known only by its commitment (whose kind bit says leaf or internal).
    case opaque(Hash)
    /// A leaf whose value is not carried (a key next to the witnessed ones).
    case leaf(key: Hash, valueHash: Hash)
    /// A leaf of a witnessed key, with its value.
    case leafWithValue(key: Hash, value: [UInt8])
    /// An internal node: left (bit 0) and right (bit 1) halves.
    case branch(WitnessNode, WitnessNode)
}

/// A multiproof for a set of keys: enough of the tree to read every witnessed key (or prove it
/// absent) and to apply updates to those keys, recomputing the root without the store.
///
/// Encoding: the nodes in pre-order; `0x00` empty, `0x01 || hash` opaque, `0x02 || key || value
/// hash` leaf, `0x03 || key || value (length-prefixed bytes)` leaf with value, `0x04 || left ||
/// right` branch. At most 256 levels deep. Structural rules (canonical shape, leaf positions) are
/// checked by `WitnessTree` against the expected root.
public struct Witness: Hashable, Sendable, CanonicalCodable {
    public var root: WitnessNode

    public init(root: WitnessNode) { self.root = root }

    /// The number of nodes in the partial tree.
    public var nodeCount: Int {
        func count(_ n: WitnessNode) -> Int {
            if case .branch(let l, let r) = n { return 1 + count(l) + count(r) }
            return 1
        }
        return count(root)
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        func write(_ node: WitnessNode) {
            switch node {
            case .empty:
                encoder.write(UInt8(0))
            case .opaque(let h):
                encoder.write(UInt8(1))
                encoder.write(h)
            case .leaf(let key, let valueHash):
                encoder.write(UInt8(2))
                encoder.write(key)
                encoder.write(valueHash)
            case .leafWithValue(let key, let value):
                encoder.write(UInt8(3))
                encoder.write(key)
                encoder.writeBytes(value)
            case .branch(let l, let r):
                encoder.write(UInt8(4))
                write(l)
                write(r)
            }
        }
        write(root)
    }

    /// The most nodes a decoded witness may hold: 1,048,576.
    ///
    /// Derived from the largest body that can carry one: the L1 takes 32 MiB JSON-RPC bodies of hex,
    /// 16 MiB of binary challenge. An `empty` or `branch` node encodes in one byte but costs a heap
    /// node of about 50 bytes, so without a count limit such a body decodes into 16 million nodes
    /// (close to a GiB) before any check. Real witnesses spend far more than 16 bytes per node (every
    /// branch's other side is a 33-byte commitment or a leaf of 37+ bytes), so 16 MiB / 16 bytes is a
    /// bound no honest witness of that size reaches.
    public static let maxNodes = (16 << 20) / 16

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        try self.init(from: &decoder, maxNodes: Self.maxNodes)
    }

    /// Decodes a witness of at most `maxNodes` nodes, counting as it reads: the first node over the
    /// limit fails with `lengthExceedsLimit`, before the rest is read or allocated.
    public init(from decoder: inout CanonicalDecoder, maxNodes: Int) throws(CanonicalDecodingError) {
        var nodes = 0
        func read(depth: Int) throws(CanonicalDecodingError) -> WitnessNode {
            nodes += 1
            guard nodes <= maxNodes else { throw .lengthExceedsLimit(length: UInt64(nodes), limit: maxNodes) }
            switch try decoder.read(UInt8.self) {
            case 0:
                return .empty
            case 1:
                let h = try decoder.read(Hash.self)
                guard h != TreeHash.empty else { throw .nonCanonical("an opaque subtree with the empty commitment") }
                return .opaque(h)
            case 2:
                return .leaf(key: try decoder.read(Hash.self), valueHash: try decoder.read(Hash.self))
            case 3:
                return .leafWithValue(key: try decoder.read(Hash.self), value: try decoder.readBytes())
            case 4:
                guard depth < 256 else { throw .invalidValue("witness deeper than 256 levels") }
                let left = try read(depth: depth + 1)
                return .branch(left, try read(depth: depth + 1))
            case let tag:
                throw .invalidValue("witness node tag \(tag)")
            }
        }
        root = try read(depth: 0)
    }
}

/// The witness-backed partial tree: the state of the witnessed keys, verified against a root, that
/// reads and updates them and computes new roots byte-identical to the stored tree's.
///
/// This is the state backend of stateless execution (the L1's fraud-proof adjudicator, tests).
/// Reading or writing a key the witness does not cover throws `keyNotInWitness`.
public struct WitnessTree: Sendable {
    private var root: WitnessNode

    /// Checks `witness` against `expectedRoot`: its shape must be canonical, every leaf must sit on
    /// its own key's path, and it must hash to the root.
    public init(witness: Witness, expectedRoot: Hash) throws(StateTreeError) {
        let actual = try Self.validate(witness.root, depth: 0, prefix: .zero)
        guard actual == expectedRoot else { throw .witnessRootMismatch(expected: expectedRoot, actual: actual) }
        root = witness.root
    }

    private static func validate(_ node: WitnessNode, depth: Int, prefix: Hash) throws(StateTreeError) -> Hash {
        switch node {
        case .empty:
            return TreeHash.empty
        case .opaque(let h):
            guard h != TreeHash.empty else { throw .malformedWitness("opaque subtree with the empty commitment") }
            return h
        case .leaf(let key, let valueHash):
            guard key.keepingPrefix(bits: depth) == prefix else {
                throw .malformedWitness("leaf \(key) is not on its own path at depth \(depth)")
            }
            return TreeHash.leaf(key: key, valueHash: valueHash)
        case .leafWithValue(let key, let value):
            guard key.keepingPrefix(bits: depth) == prefix else {
                throw .malformedWitness("leaf \(key) is not on its own path at depth \(depth)")
            }
            return TreeHash.leaf(key: key, valueHash: TreeHash.value(value))
        case .branch(let l, let r):
            guard depth < 256 else { throw .malformedWitness("branch below depth 256") }
            let left = try validate(l, depth: depth + 1, prefix: prefix)
            let right = try validate(r, depth: depth + 1, prefix: prefix.settingBit(depth))
            guard TreeHash.isCanonicalPair(left, right) else {
                throw .malformedWitness("branch at depth \(depth) is not canonical")
            }
            return TreeHash.internalNode(left, right)
        }
    }

    /// The current root commitment.
    public var rootHash: Hash { Self.hash(root) }

    private static func hash(_ node: WitnessNode) -> Hash {
        switch node {
        case .empty: return TreeHash.empty
        case .opaque(let h): return h
        case .leaf(let key, let valueHash): return TreeHash.leaf(key: key, valueHash: valueHash)
        case .leafWithValue(let key, let value): return TreeHash.leaf(key: key, valueHash: TreeHash.value(value))
        case .branch(let l, let r): return TreeHash.combine(hash(l), hash(r))
        }
    }

    /// The value of `key`, or nil when the witness proves it absent.
    public func get(_ key: Hash) throws(StateTreeError) -> [UInt8]? {
        var node = root
        var depth = 0
        while true {
            switch node {
            case .empty:
                return nil
            case .opaque:
                throw .keyNotInWitness(key)
            case .leaf(let k, _):
                if k != key { return nil }
                throw .valueNotInWitness(key)
            case .leafWithValue(let k, let value):
                return k == key ? value : nil
            case .branch(let l, let r):
                node = key.bit(depth) ? r : l
                depth += 1
            }
        }
    }

    /// Sets (or, with nil, deletes) `key`.
    public mutating func set(_ key: Hash, _ value: [UInt8]?) throws(StateTreeError) {
        if let value {
            root = try Self.insert(root, depth: 0, key: key, value: value)
        } else {
            root = try Self.delete(root, depth: 0, key: key)
        }
    }

    /// Applies updates in order (a nil value deletes).
    public mutating func apply(_ updates: [(key: Hash, value: [UInt8]?)]) throws(StateTreeError) {
        for (key, value) in updates { try set(key, value) }
    }

    private static func insert(_ node: WitnessNode, depth: Int, key: Hash, value: [UInt8]) throws(StateTreeError)
        -> WitnessNode
    {
        let leaf = WitnessNode.leafWithValue(key: key, value: value)
        switch node {
        case .empty:
            return leaf
        case .opaque:
            throw .keyNotInWitness(key)
        case .leaf(let other, _), .leafWithValue(let other, _):
            if other == key { return leaf }
            let split = other.commonPrefixBits(with: key)
            var subtree: WitnessNode = key.bit(split) ? .branch(node, leaf) : .branch(leaf, node)
            var level = split - 1
            while level >= depth {
                subtree = key.bit(level) ? .branch(.empty, subtree) : .branch(subtree, .empty)
                level -= 1
            }
            return subtree
        case .branch(let l, let r):
            if key.bit(depth) { return .branch(l, try insert(r, depth: depth + 1, key: key, value: value)) }
            return .branch(try insert(l, depth: depth + 1, key: key, value: value), r)
        }
    }

    private static func delete(_ node: WitnessNode, depth: Int, key: Hash) throws(StateTreeError) -> WitnessNode {
        switch node {
        case .empty:
            return node
        case .opaque:
            throw .keyNotInWitness(key)
        case .leaf(let other, _), .leafWithValue(let other, _):
            return other == key ? .empty : node
        case .branch(let l, let r):
            let (left, right) =
                key.bit(depth)
                ? (l, try delete(r, depth: depth + 1, key: key))
                : (try delete(l, depth: depth + 1, key: key), r)
            return join(left, right)
        }
    }

    /// A canonical node from two halves: collapses an empty half beside a single leaf.
    private static func join(_ left: WitnessNode, _ right: WitnessNode) -> WitnessNode {
        if case .empty = left, isSingleLeaf(right) || right == .empty { return right }
        if case .empty = right, isSingleLeaf(left) { return left }
        return .branch(left, right)
    }

    private static func isSingleLeaf(_ node: WitnessNode) -> Bool {
        switch node {
        case .leaf, .leafWithValue: return true
        case .opaque(let h): return TreeHash.isLeaf(h)
        case .empty, .branch: return false
        }
    }
}
