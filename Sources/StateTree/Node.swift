import Primitives

/// A reference from an internal node to a child: the child's commitment and the version that
/// wrote it (its node key is `(version, parent path + nibble)`).
public struct Child: Hashable, Sendable {
    public var hash: Hash
    public var version: Version
    public var isLeaf: Bool

    public init(hash: Hash, version: Version, isLeaf: Bool) {
        self.hash = hash
        self.version = version
        self.isLeaf = isLeaf
    }
}

/// A stored leaf: a key hash, its value's hash, and the version under which the value is stored.
public struct LeafNode: Hashable, Sendable {
    public var key: Hash
    public var valueHash: Hash
    public var valueVersion: Version

    public init(key: Hash, valueHash: Hash, valueVersion: Version) {
        self.key = key
        self.valueHash = valueHash
        self.valueVersion = valueVersion
    }

    /// The leaf's commitment.
    public var hash: Hash { TreeHash.leaf(key: key, valueHash: valueHash) }
}

/// A stored internal node: up to 16 children, one per nibble, covering four binary levels.
public struct InternalNode: Hashable, Sendable {
    /// Children by nibble; always 16 entries.
    public var children: [Child?]

    public init(children: [Child?]) {
        precondition(children.count == 16)
        self.children = children
    }

    /// The binary sub-tree inside the node in heap order: index 1 is the node's commitment,
    /// `2i` and `2i + 1` are the halves of `i`, and 16...31 are the children.
    func binaryLevels() -> [Hash] {
        var h = [Hash](repeating: .zero, count: 32)
        for n in 0..<16 { if let c = children[n] { h[16 + n] = c.hash } }
        for i in stride(from: 15, through: 1, by: -1) { h[i] = TreeHash.combine(h[2 * i], h[2 * i + 1]) }
        return h
    }

    /// The node's commitment: the canonical binary combination of its children.
    public var hash: Hash {
        withUnsafeTemporaryAllocation(of: Hash.self, capacity: 32) { h in
            for n in 0..<16 { h[16 + n] = children[n]?.hash ?? .zero }
            for i in stride(from: 15, through: 1, by: -1) { h[i] = TreeHash.combine(h[2 * i], h[2 * i + 1]) }
            return h[1]
        }
    }

    /// The number of children.
    public var childCount: Int { children.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

/// A stored tree node.
///
/// Encoding (canonical): an internal node is `0x01 || bitmap (u16 BE, bit n = child at nibble n) ||
/// leaf bitmap (u16 BE) || for each child in nibble order: version (u64 BE) || hash (32)`; a leaf is
/// `0x02 || key hash || value hash || value version (u64 BE)`.
public enum Node: Hashable, Sendable {
    case `internal`(InternalNode)
    case leaf(LeafNode)

    /// The node's commitment.
    public var hash: Hash {
        switch self {
        case .internal(let n): return n.hash
        case .leaf(let l): return l.hash
        }
    }

    /// The most bytes an encoded node takes (an internal node with 16 children).
    static let maxEncodedCount = 5 + 16 * 40

    /// Writes the canonical encoding at `out` (room for `maxEncodedCount` bytes); returns its length.
    func write(to out: UnsafeMutableRawPointer) -> Int {
        switch self {
        case .leaf(let leaf):
            out.storeBytes(of: 0x02, as: UInt8.self)
            leaf.key.store(to: out + 1)
            leaf.valueHash.store(to: out + 33)
            out.storeBytes(of: leaf.valueVersion.bigEndian, toByteOffset: 65, as: UInt64.self)
            return 73
        case .internal(let node):
            var bitmap: UInt16 = 0, leafBitmap: UInt16 = 0
            var offset = 5
            for n in 0..<16 {
                guard let c = node.children[n] else { continue }
                bitmap |= 1 << UInt16(n)
                if c.isLeaf { leafBitmap |= 1 << UInt16(n) }
                out.storeBytes(of: c.version.bigEndian, toByteOffset: offset, as: UInt64.self)
                c.hash.store(to: out + offset + 8)
                offset += 40
            }
            out.storeBytes(of: 0x01, as: UInt8.self)
            out.storeBytes(of: bitmap.bigEndian, toByteOffset: 1, as: UInt16.self)
            out.storeBytes(of: leafBitmap.bigEndian, toByteOffset: 3, as: UInt16.self)
            return offset
        }
    }

    /// Calls `body` with the canonical encoding, built on the stack.
    public func withEncoded<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withStackEncoding(capacity: Self.maxEncodedCount, write(to:), body)
    }

    /// The canonical encoding.
    public var encoded: [UInt8] { withEncoded { Array($0) } }

    /// Decodes a stored node, rejecting anything that is not a canonical encoding.
    public init(encoded raw: UnsafeRawBufferPointer) throws(StateTreeError) {
        guard let tag = raw.first else { throw .corrupt("empty node") }
        switch tag {
        case 0x02:
            guard raw.count == 73 else { throw .corrupt("leaf node of \(raw.count) bytes") }
            let key = Hash(unchecked: UnsafeRawBufferPointer(rebasing: raw[1..<33]))
            let valueHash = Hash(unchecked: UnsafeRawBufferPointer(rebasing: raw[33..<65]))
            let version = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 65, as: UInt64.self))
            self = .leaf(LeafNode(key: key, valueHash: valueHash, valueVersion: version))
        case 0x01:
            guard raw.count >= 5 else { throw .corrupt("internal node of \(raw.count) bytes") }
            let bitmap = UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 1, as: UInt16.self))
            let leafBitmap = UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 3, as: UInt16.self))
            guard bitmap != 0, leafBitmap & ~bitmap == 0 else {
                throw .corrupt("internal node bitmaps are inconsistent")
            }
            guard raw.count == 5 + 40 * bitmap.nonzeroBitCount else {
                throw .corrupt("internal node of \(raw.count) bytes for \(bitmap.nonzeroBitCount) children")
            }
            var children = [Child?](repeating: nil, count: 16)
            var offset = 5
            for n in 0..<16 where bitmap & (1 << UInt16(n)) != 0 {
                let version = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let hash = Hash(unchecked: UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<(offset + 40)]))
                let isLeaf = leafBitmap & (1 << UInt16(n)) != 0
                guard hash != .zero, TreeHash.isLeaf(hash) == isLeaf else {
                    throw .corrupt("child \(n) hash does not match its kind")
                }
                children[n] = Child(hash: hash, version: version, isLeaf: isLeaf)
                offset += 40
            }
            self = .internal(InternalNode(children: children))
        default:
            throw .corrupt("unknown node tag \(tag)")
        }
    }

    /// Decodes a stored node from an array.
    public init(encoded bytes: [UInt8]) throws(StateTreeError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(StateTreeError) in try Node(encoded: raw) } }
        self = try result.get()
    }
}
