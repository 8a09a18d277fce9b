import Primitives
import StateTree
import Storage
import Testing
import TributaryTesting

/// Untrusted bytes reach these decoders (stored pages, proofs and witnesses from peers). For random
/// and mutated inputs each must either throw or decode to a value whose encoding is exactly the
/// input: anything else would be a second encoding of one value.
@Suite struct DecoderTests {
    /// Valid encodings to mutate: nodes, keys, proofs, witnesses and stale records of a real tree.
    func samples() throws -> (
        nodes: [[UInt8]], keys: [[UInt8]], proofs: [[UInt8]], witnesses: [[UInt8]], stale: [[UInt8]]
    ) {
        var workload = Workload(seed: 77)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var live: [Hash: [UInt8]] = [:]
        var staleRecords: [[UInt8]] = []
        for version in Version(1)...4 {
            let updates = workload.batch(size: 120, live: live)
            let batch = try tree.update(base: version == 1 ? nil : version - 1, version: version, updates: updates)
            store.apply(batch)
            live.apply(updates)
            let entries =
                batch.staleNodes.map { StaleEntries.Entry.node($0) }
                + batch.staleValues.map { .value(StateValueKey(version: $0.version, key: $0.key)) }
            staleRecords.append(StaleEntries(entries).withStorageBytes { Array($0) })
        }
        let proofs = try workload.pool.prefix(30).map { try tree.proof(for: $0, at: 4).proof.canonicalBytes }
        let witnesses = try (0..<10).map { i in
            try tree.witness(for: Array(workload.pool[(i * 5)..<(i * 5 + 5)]), at: 4).canonicalBytes
        }
        return (
            store.nodes.values.prefix(60).map(\.encoded), store.nodes.keys.prefix(60).map(\.encoded), proofs,
            witnesses, staleRecords
        )
    }

    /// Random bytes, and valid encodings with bytes flipped, inserted, removed or truncated.
    func inputs(from valid: [[UInt8]], rng: inout SplitMix64) -> [[UInt8]] {
        var out: [[UInt8]] = valid
        for _ in 0..<200 { out.append(rng.bytes(Int(rng.next() % 120))) }
        for original in valid {
            for _ in 0..<12 {
                var b = original
                guard !b.isEmpty else { continue }
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 4 {
                case 0: b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                case 2: b.remove(at: i)
                default: b = Array(b[..<i])
                }
                out.append(b)
            }
        }
        return out
    }

    @Test func decodersAcceptOnlyCanonicalEncodings() throws {
        var rng = SplitMix64(seed: 2026)
        print("seed 2026")
        let s = try samples()
        var accepted = 0
        for bytes in inputs(from: s.nodes, rng: &rng) {
            if let node = try? Node(encoded: bytes) {
                #expect(node.encoded == bytes)
                accepted += 1
            }
        }
        for bytes in inputs(from: s.keys, rng: &rng) {
            if let key = try? bytes.withUnsafeBytes({ try NodeKey(encoded: $0) }) {
                #expect(key.encoded == bytes)
                accepted += 1
            }
        }
        for bytes in inputs(from: s.proofs, rng: &rng) {
            if let proof = try? SparseMerkleProof(canonicalBytes: bytes) {
                #expect(proof.canonicalBytes == bytes)
                accepted += 1
            }
        }
        for bytes in inputs(from: s.witnesses, rng: &rng) {
            if let witness = try? Witness(canonicalBytes: bytes) {
                #expect(witness.canonicalBytes == bytes)
                accepted += 1
            }
        }
        for bytes in inputs(from: s.stale, rng: &rng) {
            if let stale = try? bytes.withUnsafeBytes({ try StaleEntries(storageBytes: $0) }) {
                #expect(stale.withStorageBytes { Array($0) } == bytes)
                accepted += 1
            }
        }
        // The valid samples themselves are among the accepted inputs.
        #expect(accepted >= s.nodes.count + s.keys.count + s.proofs.count + s.witnesses.count + s.stale.count)
    }
}
