import Primitives
import StateTree
import Storage
import Testing
import TributaryTesting

@Suite struct LMDBTreeStoreTests {
    func open(_ dir: TemporaryDirectory) throws -> Environment {
        var options = Environment.Options()
        options.initialMapSize = 1 << 20  // small on purpose: the tree's writes must grow the map
        return try Environment(path: dir.path, options: options)
    }

    @Test(arguments: [UInt64(21), 22])
    func theLMDBBackedTreeMatchesTheInMemoryTreeAndTheReference(seed: UInt64) throws {
        let dir = try TemporaryDirectory("tree")
        let env = try open(dir)
        var workload = Workload(seed: seed)
        let memory = MemoryTreeStore()
        var live: [Hash: [UInt8]] = [:]
        var base: Version? = nil
        for version in Version(1)...25 {
            let updates = workload.batch(size: 1 + Int(workload.rng.next() % 200), live: live)
            let stored = try env.write { (txn: WriteTransaction) throws in
                let batch = try StateTree(LMDBTreeReader(txn)).update(base: base, version: version, updates: updates)
                try LMDBTreeStore.write(batch, in: txn)
                return batch.rootHash
            }
            let inMemory = try StateTree(memory).update(base: base, version: version, updates: updates)
            memory.apply(inMemory)
            live.apply(updates)
            #expect(stored == inMemory.rootHash)
            #expect(stored == naiveRoot(live))
            base = version
        }
        try env.read { (txn: ReadTransaction) throws in
            let tree = StateTree(LMDBTreeReader(txn))
            #expect(try LMDBTreeReader(txn).latestVersion() == 25)
            let root = try tree.rootHash(at: 25)
            for key in workload.pool {
                #expect(try tree.get(key, at: 25) == live[key])
                let (value, proof) = try tree.proof(for: key, at: 25)
                #expect(proof.verify(key: key, value: value, root: root))
            }
            #expect(try txn.count(StateNodes.self) == memory.nodes.count)
        }
    }

    @Test func theTreeSurvivesReopeningTheStore() throws {
        let dir = try TemporaryDirectory("tree")
        var workload = Workload(seed: 31)
        let updates = workload.batch(size: 300, live: [:])
        var expected: [Hash: [UInt8]] = [:]
        expected.apply(updates)
        do {
            let env = try open(dir)
            try env.write { (txn: WriteTransaction) throws in
                try LMDBTreeStore.write(
                    try StateTree(LMDBTreeReader(txn)).update(base: nil, version: 1, updates: updates), in: txn)
            }
        }
        let env = try open(dir)
        try env.read { (txn: ReadTransaction) throws in
            let tree = StateTree(LMDBTreeReader(txn))
            #expect(try tree.rootHash(at: 1) == naiveRoot(expected))
            for (key, value) in expected { #expect(try tree.get(key, at: 1) == value) }
        }
    }

    @Test func pruningTheStoreKeepsLaterVersionsWholeInBoundedSteps() throws {
        let dir = try TemporaryDirectory("tree")
        let env = try open(dir)
        var workload = Workload(seed: 41)
        var history: [[Hash: [UInt8]]] = [[:]]
        for version in Version(1)...20 {
            var live = history.last!
            let updates = workload.batch(size: 80, live: live)
            try env.write { (txn: WriteTransaction) throws in
                let batch = try StateTree(LMDBTreeReader(txn)).update(
                    base: version == 1 ? nil : version - 1, version: version, updates: updates)
                try LMDBTreeStore.write(batch, in: txn)
            }
            live.apply(updates)
            history.append(live)
        }
        let before = try env.read { try $0.count(StateNodes.self) }
        var rounds = 0
        var more = true
        while more {
            let result = try env.write { try LMDBTreeStore.prune(before: 15, in: $0, limit: 50) }
            more = result.more
            rounds += 1
        }
        #expect(rounds > 1)
        let after = try env.read { try $0.count(StateNodes.self) }
        #expect(after < before)
        try env.read { (txn: ReadTransaction) throws in
            let tree = StateTree(LMDBTreeReader(txn))
            #expect(throws: StateTreeError.unknownVersion(14)) { _ = try tree.rootHash(at: 14) }
            try expectProvable(tree, history: history, versions: 15...20, pool: workload.pool)
        }
    }

    @Test func parallelUpdatesInsideAWriteTransactionMatchSerialOnes() throws {
        let dir = try TemporaryDirectory("tree")
        let env = try open(dir)
        var rng = SplitMix64(seed: 71)
        let keys = (0..<10_000).map { _ in rng.hash() }
        try env.write { txn in
            let batch = try StateTree(LMDBTreeReader(txn)).update(
                base: nil, version: 1, updates: keys.map { ($0, [1]) })
            try LMDBTreeStore.write(batch, in: txn)
        }
        var updates: [(key: Hash, value: [UInt8]?)] = []
        for i in 0..<3_000 {
            switch i % 3 {
            case 0: updates.append((keys[i], nil))
            case 1: updates.append((keys[i], [2]))
            default: updates.append((rng.hash(), [3]))
            }
        }
        let serial = try env.read { try StateTree(LMDBTreeReader($0)).update(base: 1, version: 2, updates: updates) }
        let parallel = try env.write { (txn: WriteTransaction) throws -> TreeUpdateBatch in
            let batch = try StateTree(LMDBTreeReader(txn)).update(
                base: 1, version: 2, updates: updates, parallelReaders: LMDBTreeReaderProvider(env))
            try LMDBTreeStore.write(batch, in: txn)
            return batch
        }
        expectIdentical(serial, parallel)
        #expect(try env.read { try StateTree(LMDBTreeReader($0)).rootHash(at: 2) } == serial.rootHash)
    }

    @Test func aBatchCannotBeWrittenUnderAnOlderVersion() throws {
        let dir = try TemporaryDirectory("tree")
        let env = try open(dir)
        let key = Hash.sha256(utf8: "k")
        let first = try env.write { (txn: WriteTransaction) throws in
            let batch = try StateTree(LMDBTreeReader(txn)).update(base: nil, version: 2, updates: [(key, [1])])
            try LMDBTreeStore.write(batch, in: txn)
            return batch
        }
        // A batch computed elsewhere for an older version cannot be appended behind newer data.
        let stale = try StateTree(MemoryTreeStore()).update(base: nil, version: 1, updates: [(key, [2])])
        #expect(throws: StorageError.self) { try env.write { try LMDBTreeStore.write(stale, in: $0) } }
        #expect(try env.read { try StateTree(LMDBTreeReader($0)).rootHash(at: 2) } == first.rootHash)
        #expect(try env.read { try $0.get(StateRoots.self, 1) } == nil)
    }
}
