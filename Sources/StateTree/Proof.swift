import Primitives

/// A proof that a key has a given value, or is absent, under a root.
///
/// `siblings[i]` is the commitment of the sibling at binary depth `i + 1` on the key's path, from
/// the root down; the path ends at `terminal`: the empty subtree, or a leaf (the key's own leaf, or
/// another key's leaf, which proves the key absent because a single-leaf subtree holds only it).
///
/// Verification hashes from the terminal up and refuses every shape a canonical tree cannot have
/// (an empty half beside a leaf, two empty halves), so a proof cannot claim a leaf is absent by
/// hiding it in a sibling.
///
/// Encoding: `sibling count (u16 BE, at most 256) || bitmap of non-empty siblings (ceil(count/8)
/// bytes, bit i = 0x80 >> (i % 8) of byte i / 8, spare bits zero) || the non-empty siblings || terminal`,
/// where the terminal is `0x00` (empty) or `0x01 || key hash || value hash`.
public struct SparseMerkleProof: Hashable, Sendable, CanonicalCodable {
    /// Where the key's path ends.
    public enum Terminal: Hashable, Sendable {
        case empty
        case leaf(key: Hash, valueHash: Hash)
    }

    public var siblings: [Hash]
    public var terminal: Terminal

    public init(siblings: [Hash], terminal: Terminal) {
        self.siblings = siblings
        self.terminal = terminal
    }

    /// The root this proof commits to for `key`, or nil when the proof is not a canonical path for it.
    public func rootHash(for key: Hash) -> Hash? {
        guard siblings.count <= 256 else { return nil }
        var h: Hash
        switch terminal {
        case .empty:
            h = TreeHash.empty
        case .leaf(let leafKey, let valueHash):
            guard leafKey.commonPrefixBits(with: key) >= siblings.count else { return nil }
            h = TreeHash.leaf(key: leafKey, valueHash: valueHash)
        }
        for depth in stride(from: siblings.count - 1, through: 0, by: -1) {
            let sibling = siblings[depth]
            let (left, right) = key.bit(depth) ? (sibling, h) : (h, sibling)
            guard TreeHash.isCanonicalPair(left, right) else { return nil }
            h = TreeHash.internalNode(left, right)
        }
        return h
    }

    /// Whether the proof shows `key` holding `value` (nil: absent) under `root`.
    public func verify(key: Hash, value: [UInt8]?, root: Hash) -> Bool {
        guard rootHash(for: key) == root else { return false }
        switch terminal {
        case .empty:
            return value == nil
        case .leaf(let leafKey, let valueHash):
            if let value { return leafKey == key && valueHash == TreeHash.value(value) }
            return leafKey != key
        }
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(UInt16(siblings.count))
        var bitmap = [UInt8](repeating: 0, count: (siblings.count + 7) / 8)
        for (i, s) in siblings.enumerated() where s != TreeHash.empty { bitmap[i / 8] |= 0x80 >> UInt8(i % 8) }
        encoder.writeFixed(bitmap)
        for s in siblings where s != TreeHash.empty { encoder.write(s) }
        switch terminal {
        case .empty:
            encoder.write(UInt8(0))
        case .leaf(let key, let valueHash):
            encoder.write(UInt8(1))
            encoder.write(key)
            encoder.write(valueHash)
        }
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        let count = Int(try decoder.read(UInt16.self))
        guard count <= 256 else { throw .lengthExceedsLimit(length: UInt64(count), limit: 256) }
        let bitmap = try decoder.readFixed((count + 7) / 8)
        if count % 8 != 0, let last = bitmap.last, last & (0xff >> UInt8(count % 8)) != 0 {
            throw .nonCanonical("proof bitmap has bits set past its \(count) siblings")
        }
        var siblings = [Hash](repeating: TreeHash.empty, count: count)
        for i in 0..<count where bitmap[i / 8] & (0x80 >> UInt8(i % 8)) != 0 {
            let s = try decoder.read(Hash.self)
            guard s != TreeHash.empty else { throw .nonCanonical("a sibling marked present is empty") }
            siblings[i] = s
        }
        switch try decoder.read(UInt8.self) {
        case 0: terminal = .empty
        case 1: terminal = .leaf(key: try decoder.read(Hash.self), valueHash: try decoder.read(Hash.self))
        case let tag: throw .invalidValue("proof terminal tag \(tag)")
        }
        self.siblings = siblings
    }
}
