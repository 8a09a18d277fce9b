import Primitives
import StateTree
import Testing
import TributaryTesting

/// The naive reference: the root recomputed from the full key/value map by splitting the sorted
/// leaves bit by bit, with no stored nodes, no nibbles and no collapse logic of its own.
func naiveRoot(_ entries: [Hash: [UInt8]]) -> Hash {
    let leaves = entries.map { ($0.key, TreeHash.value($0.value)) }.sorted { $0.0 < $1.0 }
    return naive(leaves[...], depth: 0)
}

private func naive(_ leaves: ArraySlice<(Hash, Hash)>, depth: Int) -> Hash {
    if leaves.isEmpty { return TreeHash.empty }
    if leaves.count == 1 { return TreeHash.leaf(key: leaves.first!.0, valueHash: leaves.first!.1) }
    let split = leaves.firstIndex { $0.0.bit(depth) } ?? leaves.endIndex
    return TreeHash.internalNode(naive(leaves[..<split], depth: depth + 1), naive(leaves[split...], depth: depth + 1))
}

extension SplitMix64 {
    mutating func hash() -> Hash { Hash(w0: next(), w1: next(), w2: next(), w3: next()) }

    /// A key sharing its first `bits` bits with `base`.
    mutating func hash(sharing bits: Int, with base: Hash) -> Hash {
        let r = hash()
        func mix(_ b: UInt64, _ x: UInt64, _ word: Int) -> UInt64 {
            let keep = bits - word * 64
            if keep >= 64 { return b }
            if keep <= 0 { return x }
            let mask = UInt64.max << UInt64(64 - keep)
            return (b & mask) | (x & ~mask)
        }
        return Hash(
            w0: mix(base.w0, r.w0, 0), w1: mix(base.w1, r.w1, 1), w2: mix(base.w2, r.w2, 2), w3: mix(base.w3, r.w3, 3))
    }
}

/// Random batches of inserts, updates and deletes over a key pool that mixes uniform keys with
/// clusters sharing long prefixes (up to 250 bits).
struct Workload {
    var rng: SplitMix64
    var pool: [Hash] = []

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        let base = rng.hash()
        for _ in 0..<150 { pool.append(rng.hash()) }
        for bits in [8, 60, 64, 65, 128, 200, 250, 255] {
            for _ in 0..<4 { pool.append(rng.hash(sharing: bits, with: base)) }
        }
    }

    mutating func batch(size: Int, live: [Hash: [UInt8]]) -> [(key: Hash, value: [UInt8]?)] {
        var out: [(key: Hash, value: [UInt8]?)] = []
        for _ in 0..<size {
            let key = pool[Int(rng.next() % UInt64(pool.count))]
            switch rng.next() % 10 {
            case 0..<3 where live[key] != nil:
                out.append((key, nil))
            case 3:
                out.append((rng.hash(), rng.bytes(Int(rng.next() % 40))))
            default:
                out.append((key, rng.bytes(1 + Int(rng.next() % 40))))
            }
        }
        return out
    }
}

extension Dictionary where Key == Hash, Value == [UInt8] {
    mutating func apply(_ updates: [(key: Hash, value: [UInt8]?)]) {
        for (k, v) in updates { self[k] = v }
    }
}

/// Asserts two batches are the same records, in the same order.
func expectIdentical(_ a: TreeUpdateBatch, _ b: TreeUpdateBatch, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.root == b.root, sourceLocation: sourceLocation)
    #expect(a.newNodes.map(\.key) == b.newNodes.map(\.key), sourceLocation: sourceLocation)
    #expect(a.newNodes.map(\.node) == b.newNodes.map(\.node), sourceLocation: sourceLocation)
    #expect(a.newValues.map(\.key) == b.newValues.map(\.key), sourceLocation: sourceLocation)
    #expect(a.newValues.map(\.value) == b.newValues.map(\.value), sourceLocation: sourceLocation)
    #expect(a.staleNodes == b.staleNodes, sourceLocation: sourceLocation)
    #expect(a.staleValues.map(\.key) == b.staleValues.map(\.key), sourceLocation: sourceLocation)
    #expect(a.staleValues.map(\.version) == b.staleValues.map(\.version), sourceLocation: sourceLocation)
}

/// Asserts that each version's root is the reference root of its history entry and that every key
/// of `pool` proves its value (or absence) against it.
func expectProvable(
    _ tree: StateTree, history: [[Hash: [UInt8]]], versions: ClosedRange<Version>, pool: [Hash],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for version in versions {
        let root = try tree.rootHash(at: version)
        #expect(root == naiveRoot(history[Int(version)]), sourceLocation: sourceLocation)
        for key in pool {
            let (value, proof) = try tree.proof(for: key, at: version)
            #expect(value == history[Int(version)][key], sourceLocation: sourceLocation)
            #expect(proof.verify(key: key, value: value, root: root), sourceLocation: sourceLocation)
        }
    }
}
