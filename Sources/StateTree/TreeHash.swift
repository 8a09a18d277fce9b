import Primitives

/// The hashing rules of the state tree (docs/state-tree.md).
///
/// The tree is a binary sparse Merkle tree over 256-bit key hashes in which a subtree holding a
/// single leaf is represented by that leaf (path compression). Its commitments:
///
/// * the empty subtree is 32 zero bytes;
/// * a leaf is `SHA-256(0x00 || keyHash || valueHash)` with the lowest bit of the last byte set to 1;
/// * an internal node is `SHA-256(0x01 || left || right)` with that bit cleared to 0.
///
/// The kind bit makes every subtree commitment say whether it is a single leaf, so a stateless
/// verifier holding only a sibling's hash knows whether a deletion must collapse it upwards. Without
/// it a forged witness could hide a leaf behind an opaque hash and steer the new root.
public enum TreeHash {
    /// The commitment of the empty subtree.
    public static let empty = Hash.zero

    /// The hash of a stored value.
    @inlinable
    public static func value(_ value: [UInt8]) -> Hash { Hash.sha256(value) }

    /// The commitment of a leaf.
    @inlinable
    public static func leaf(key: Hash, valueHash: Hash) -> Hash {
        var h = Hash.sha256(tag: 0x00, key, valueHash)
        h.w3 |= 1
        return h
    }

    /// The commitment of an internal node with the given children, hashed as is.
    @inlinable
    public static func internalNode(_ left: Hash, _ right: Hash) -> Hash {
        var h = Hash.sha256(tag: 0x01, left, right)
        h.w3 &= ~1
        return h
    }

    /// Whether a commitment is that of a single leaf.
    @inlinable
    public static func isLeaf(_ h: Hash) -> Bool { h.w3 & 1 == 1 }

    /// The canonical commitment of a subtree whose halves commit to `left` and `right`: empty when
    /// both are empty, the leaf itself when one half is empty and the other a single leaf, an
    /// internal node otherwise.
    @inlinable
    public static func combine(_ left: Hash, _ right: Hash) -> Hash {
        if left == empty {
            if right == empty || isLeaf(right) { return right }
        } else if right == empty, isLeaf(left) {
            return left
        }
        return internalNode(left, right)
    }

    /// Whether `left`/`right` can be the two halves of an internal node in a canonical tree: not
    /// both empty, and never an empty half beside a single leaf (that subtree would be the leaf).
    @inlinable
    public static func isCanonicalPair(_ left: Hash, _ right: Hash) -> Bool {
        if left == empty { return right != empty && !isLeaf(right) }
        if right == empty { return !isLeaf(left) }
        return true
    }
}

extension Hash {
    /// `self` with bit `index` set to 1.
    @inlinable
    func settingBit(_ index: Int) -> Hash {
        var h = self
        let mask: UInt64 = 1 << (63 - UInt64(index & 63))
        switch index >> 6 {
        case 0: h.w0 |= mask
        case 1: h.w1 |= mask
        case 2: h.w2 |= mask
        default: h.w3 |= mask
        }
        return h
    }

    /// `self` with nibble `index` (which must be zero) set to `value`.
    @inlinable
    func settingNibble(_ index: Int, to value: UInt8) -> Hash {
        var h = self
        let bits = UInt64(value & 0x0f) << (60 - UInt64(index & 15) * 4)
        switch index >> 4 {
        case 0: h.w0 |= bits
        case 1: h.w1 |= bits
        case 2: h.w2 |= bits
        default: h.w3 |= bits
        }
        return h
    }

    /// `self` with every bit from `bitCount` on cleared.
    @inlinable
    func keepingPrefix(bits bitCount: Int) -> Hash {
        func mask(_ word: UInt64, _ wordIndex: Int) -> UInt64 {
            let keep = bitCount - wordIndex * 64
            if keep >= 64 { return word }
            if keep <= 0 { return 0 }
            return word & ~(UInt64.max >> UInt64(keep))
        }
        return Hash(w0: mask(w0, 0), w1: mask(w1, 1), w2: mask(w2, 2), w3: mask(w3, 3))
    }
}
