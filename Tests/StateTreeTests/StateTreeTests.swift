import Primitives
import StateTree
import Testing
import TributaryTesting

@Suite struct StateTreeTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 1337]

    @Test func emptyTreeHasTheEmptyRootAndProvesAbsence() throws {
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        let batch = try tree.update(base: nil, version: 1, updates: [])
        store.apply(batch)
        #expect(batch.rootHash == TreeHash.empty)
        let key = Hash.sha256(utf8: "absent")
        #expect(try tree.get(key, at: 1) == nil)
        let (value, proof) = try tree.proof(for: key, at: 1)
        #expect(value == nil)
        #expect(proof.verify(key: key, value: nil, root: TreeHash.empty))
        #expect(!proof.verify(key: key, value: [1], root: TreeHash.empty))
    }

    @Test(arguments: seeds)
    func treeAgreesWithNaiveRecomputeOnRandomOperationSequences(seed: UInt64) throws {
        print("seed \(seed)")
        var workload = Workload(seed: seed)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var live: [Hash: [UInt8]] = [:]
        var base: Version? = nil
        for version in Version(1)...40 {
            let updates = workload.batch(size: Int(workload.rng.next() % 150), live: live)
            let batch = try tree.update(base: base, version: version, updates: updates)
            store.apply(batch)
            live.apply(updates)
            #expect(batch.rootHash == naiveRoot(live), "seed \(seed) version \(version)")
            for key in workload.pool.prefix(40) { #expect(try tree.get(key, at: version) == live[key]) }
            base = version
        }
    }

    @Test(arguments: seeds)
    func proofsVerifyInclusionAndExclusionAtEveryVersion(seed: UInt64) throws {
        var workload = Workload(seed: seed)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var history: [[Hash: [UInt8]]] = [[:]]
        for version in Version(1)...15 {
            var live = history.last!
            let updates = workload.batch(size: 80, live: live)
            store.apply(try tree.update(base: version == 1 ? nil : version - 1, version: version, updates: updates))
            live.apply(updates)
            history.append(live)
        }
        for version in Version(1)...15 {
            let live = history[Int(version)]
            let root = try tree.rootHash(at: version)
            for key in workload.pool {
                let (value, proof) = try tree.proof(for: key, at: version)
                #expect(value == live[key])
                #expect(proof.verify(key: key, value: live[key], root: root))
                #expect(!proof.verify(key: key, value: (live[key] ?? []) + [0xff], root: root))
                let decoded = try SparseMerkleProof(canonicalBytes: proof.canonicalBytes)
                #expect(decoded == proof)
            }
        }
    }

    @Test func tamperedProofsFailVerification() throws {
        var workload = Workload(seed: 7)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var live: [Hash: [UInt8]] = [:]
        let updates = workload.batch(size: 300, live: live)
        store.apply(try tree.update(base: nil, version: 1, updates: updates))
        live.apply(updates)
        let root = try tree.rootHash(at: 1)
        var checked = 0
        for key in workload.pool where live[key] != nil {
            let (value, proof) = try tree.proof(for: key, at: 1)
            for i in proof.siblings.indices {
                var forged = proof
                forged.siblings[i].w1 ^= 1
                #expect(!forged.verify(key: key, value: value, root: root))
            }
            var shortened = proof
            if !shortened.siblings.isEmpty {
                shortened.siblings.removeLast()
                #expect(!shortened.verify(key: key, value: value, root: root))
            }
            // The same proof does not show the key absent, nor another key present.
            #expect(!proof.verify(key: key, value: nil, root: root))
            checked += 1
        }
        #expect(checked > 10)
    }

    /// A single-leaf tree: the leaf's hash moved into a sibling slot with an empty terminal would
    /// recompute the same root if verification collapsed halves; canonical verification refuses it.
    @Test func forgedExclusionProofHidingTheLeafInASiblingIsRejected() throws {
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        let key = Hash(w0: 0, w1: 1, w2: 2, w3: 3)  // bit 0 is 0
        store.apply(try tree.update(base: nil, version: 1, updates: [(key, [42])]))
        let root = try tree.rootHash(at: 1)
        let forged = SparseMerkleProof(siblings: [root], terminal: .empty)
        #expect(forged.rootHash(for: key) == nil)
        #expect(!forged.verify(key: key, value: nil, root: root))
        let (_, honest) = try tree.proof(for: key, at: 1)
        #expect(honest.verify(key: key, value: [42], root: root))
    }

    @Test(arguments: seeds)
    func witnessTreeMatchesTheStoredTreeOnRandomizedBatches(seed: UInt64) throws {
        var workload = Workload(seed: seed &+ 100)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var live: [Hash: [UInt8]] = [:]
        var base: Version? = nil
        for version in Version(1)...30 {
            let updates = workload.batch(size: 1 + Int(workload.rng.next() % 60), live: live)
            let reads = (0..<5).map { _ in workload.pool[Int(workload.rng.next() % UInt64(workload.pool.count))] }
            let witness = try tree.witness(for: updates.map(\.key) + reads, at: base)
            let decoded = try Witness(canonicalBytes: witness.canonicalBytes)
            #expect(decoded == witness)
            var partial = try WitnessTree(
                witness: decoded, expectedRoot: base.map { try tree.rootHash(at: $0) } ?? TreeHash.empty)
            for key in reads + updates.map(\.key) { #expect(try partial.get(key) == live[key]) }
            try partial.apply(updates)
            let batch = try tree.update(base: base, version: version, updates: updates)
            store.apply(batch)
            live.apply(updates)
            #expect(partial.rootHash == batch.rootHash, "seed \(seed) version \(version)")
            base = version
        }
    }

    @Test func witnessHandlesTheEmptyTreeAndDeletingDownToEmpty() throws {
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        let a = Hash(w0: 1, w1: 0, w2: 0, w3: 0), b = Hash(w0: 1, w1: 0, w2: 0, w3: 1)  // share 255 bits
        var partial = try WitnessTree(witness: try tree.witness(for: [a, b], at: nil), expectedRoot: TreeHash.empty)
        try partial.apply([(a, [1]), (b, [2])])
        let batch = try tree.update(base: nil, version: 1, updates: [(a, [1]), (b, [2])])
        store.apply(batch)
        #expect(partial.rootHash == batch.rootHash)
        #expect(batch.rootHash == naiveRoot([a: [1], b: [2]]))

        var back = try WitnessTree(witness: try tree.witness(for: [a, b], at: 1), expectedRoot: batch.rootHash)
        try back.apply([(a, nil), (b, nil)])
        let emptied = try tree.update(base: 1, version: 2, updates: [(a, nil), (b, nil)])
        store.apply(emptied)
        #expect(back.rootHash == TreeHash.empty)
        #expect(emptied.rootHash == TreeHash.empty)
    }

    /// Deleting one of two sibling leaves must collapse the other upwards; a witness that shows the
    /// surviving leaf only as an opaque hash still gets this right, because commitments carry their
    /// kind, and a witness that lies about a leaf's kind does not hash to the root.
    @Test func witnessDeletionCollapsesOpaqueLeafSiblings() throws {
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var rng = SplitMix64(seed: 99)
        let keys = (0..<64).map { _ in rng.hash() }
        store.apply(try tree.update(base: nil, version: 1, updates: keys.map { ($0, [UInt8](repeating: 7, count: 3)) }))
        let root = try tree.rootHash(at: 1)
        for victim in keys.prefix(20) {
            var partial = try WitnessTree(witness: try tree.witness(for: [victim], at: 1), expectedRoot: root)
            try partial.set(victim, nil)
            var expected = Dictionary(uniqueKeysWithValues: keys.map { ($0, [UInt8](repeating: 7, count: 3)) })
            expected[victim] = nil
            #expect(partial.rootHash == naiveRoot(expected))
        }
    }

    @Test func witnessesThatAreNotCanonicalOrMisplaceLeavesAreRejected() throws {
        let a = Hash(w0: 0, w1: 0, w2: 0, w3: 5)  // bit 0 = 0
        let leaf = WitnessNode.leafWithValue(key: a, value: [1])
        let root = TreeHash.leaf(key: a, valueHash: TreeHash.value([1]))
        // A leaf pushed one level down beside an empty half.
        #expect(throws: StateTreeError.self) {
            _ = try WitnessTree(witness: Witness(root: .branch(leaf, .empty)), expectedRoot: root)
        }
        // A leaf on the wrong side of its own key's path.
        let misplaced = Witness(
            root: .branch(.opaque(TreeHash.internalNode(Hash.sha256(utf8: "x"), Hash.sha256(utf8: "y"))), leaf))
        #expect(throws: StateTreeError.self) {
            _ = try WitnessTree(witness: misplaced, expectedRoot: root)
        }
        // Right shape, wrong root.
        #expect(throws: StateTreeError.witnessRootMismatch(expected: .zero, actual: root)) {
            _ = try WitnessTree(witness: Witness(root: leaf), expectedRoot: .zero)
        }
        // Keys the witness does not cover are refused rather than guessed.
        let covered = try WitnessTree(witness: Witness(root: .opaque(root)), expectedRoot: root)
        #expect(throws: StateTreeError.keyNotInWitness(a)) { _ = try covered.get(a) }
    }

    @Test func noOpUpdatesKeepTheRootAndWriteNoNodes() throws {
        var workload = Workload(seed: 5)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var live: [Hash: [UInt8]] = [:]
        let updates = workload.batch(size: 200, live: live)
        store.apply(try tree.update(base: nil, version: 1, updates: updates))
        live.apply(updates)
        let absent = (0..<20).map { _ in workload.rng.hash() }
        let same = live.prefix(20).map { (key: $0.key, value: Optional($0.value)) }
        let batch = try tree.update(base: 1, version: 2, updates: absent.map { ($0, nil) } + same)
        #expect(batch.rootHash == (try tree.rootHash(at: 1)))
        #expect(batch.newNodes.isEmpty)
        #expect(batch.staleNodes.isEmpty)
        #expect(batch.newValues.isEmpty)
    }

    @Test(arguments: [UInt64(61), 62])
    func parallelUpdatesAreByteIdenticalToSerialOnes(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var keys = (0..<20_000).map { _ in rng.hash() }
        store.apply(try tree.update(base: nil, version: 1, updates: keys.map { ($0, rng.bytes(8)) }))
        var live: [Hash: [UInt8]] = [:]
        var updates: [(key: Hash, value: [UInt8]?)] = []
        for i in 0..<4_000 {
            switch i % 4 {
            case 0: updates.append((keys[Int(rng.next() % UInt64(keys.count))], nil))
            case 1:
                let key = rng.hash()
                keys.append(key)
                updates.append((key, rng.bytes(8)))
            default: updates.append((keys[Int(rng.next() % UInt64(keys.count))], rng.bytes(8)))
            }
        }
        let serial = try tree.update(base: 1, version: 2, updates: updates)
        let parallel = try tree.update(base: 1, version: 2, updates: updates, parallelReaders: store.parallelReaders)
        expectIdentical(serial, parallel)
        store.apply(parallel)
        for k in keys.prefix(20_000) { live[k] = try tree.get(k, at: 1) }
        for (k, v) in updates { live[k] = v }
        #expect(parallel.rootHash == naiveRoot(live.compactMapValues { $0 }))
    }

    @Test func versionsMustIncrease() throws {
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        store.apply(try tree.update(base: nil, version: 5, updates: [(Hash.sha256(utf8: "k"), [1])]))
        #expect(throws: StateTreeError.versionNotIncreasing(base: 5, new: 5)) {
            _ = try tree.update(base: 5, version: 5, updates: [])
        }
        #expect(throws: StateTreeError.versionNotIncreasing(base: nil, new: 3)) {
            _ = try tree.update(base: nil, version: 3, updates: [])
        }
        #expect(throws: StateTreeError.unknownVersion(4)) { _ = try tree.update(base: 4, version: 6, updates: []) }
    }

    @Test func pruningKeepsLaterRootsAndTheirProofsWhole() throws {
        var workload = Workload(seed: 11)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        var history: [[Hash: [UInt8]]] = [[:]]
        for version in Version(1)...20 {
            var live = history.last!
            let updates = workload.batch(size: 60, live: live)
            store.apply(try tree.update(base: version == 1 ? nil : version - 1, version: version, updates: updates))
            live.apply(updates)
            history.append(live)
        }
        let nodesBefore = store.nodes.count
        let valuesBefore = store.values.count
        store.prune(before: 15)
        #expect(store.nodes.count < nodesBefore)
        #expect(store.values.count < valuesBefore)
        try expectProvable(tree, history: history, versions: 15...20, pool: workload.pool)
        #expect(throws: StateTreeError.unknownVersion(14)) { _ = try tree.rootHash(at: 14) }
        // The tree goes on from a surviving version.
        let next = try tree.update(base: 20, version: 21, updates: [(workload.pool[0], [9])])
        store.apply(next)
        var live = history[20]
        live[workload.pool[0]] = [9]
        #expect(next.rootHash == naiveRoot(live))
    }

    @Test func nodesRoundTripAndCorruptEncodingsAreRejected() throws {
        var workload = Workload(seed: 3)
        let store = MemoryTreeStore()
        let tree = StateTree(store)
        store.apply(try tree.update(base: nil, version: 1, updates: workload.batch(size: 300, live: [:])))
        #expect(store.nodes.count > 10)
        for (key, node) in store.nodes {
            #expect(try Node(encoded: node.encoded) == node)
            let encodedKey = key.encoded
            #expect(try encodedKey.withUnsafeBytes { try NodeKey(encoded: $0) } == key)
            var truncated = node.encoded
            truncated.removeLast()
            #expect(throws: StateTreeError.self) { _ = try Node(encoded: truncated) }
        }
        #expect(throws: StateTreeError.self) { _ = try Node(encoded: [0x07]) }
    }
}
