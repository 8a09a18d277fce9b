import Dispatch
import Primitives
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The authenticated key-value state: a 16-ary layout of a canonical binary sparse Merkle tree.
///
/// Pure logic over a `TreeReader`: reads, proofs and witnesses come from stored nodes, and
/// `update` returns a `TreeUpdateBatch` that the caller commits (with the block, in one
/// transaction). Every version's root stays readable and provable until it is pruned.
public struct StateTree {
    /// Where nodes, values and roots are read from.
    public let reader: any TreeReader

    public init(_ reader: any TreeReader) { self.reader = reader }

    /// The root of `version`; throws `unknownVersion` when none is recorded.
    public func root(at version: Version) throws -> RootRecord {
        guard let root = try reader.root(at: version) else { throw StateTreeError.unknownVersion(version) }
        return root
    }

    /// The root commitment of `version`.
    public func rootHash(at version: Version) throws -> Hash { try root(at: version).hash }

    func load(_ key: NodeKey) throws -> Node {
        guard let node = try reader.node(key) else { throw StateTreeError.missingNode(key) }
        return node
    }

    func loadLeaf(_ key: NodeKey) throws -> LeafNode {
        guard case .leaf(let leaf) = try load(key) else { throw StateTreeError.corrupt("node \(key) should be a leaf") }
        return leaf
    }

    func loadValue(of leaf: LeafNode) throws -> [UInt8] {
        guard let value = try reader.value(key: leaf.key, version: leaf.valueVersion) else {
            throw StateTreeError.missingValue(key: leaf.key, version: leaf.valueVersion)
        }
        return value
    }

    /// The leaf holding `key` at `version`, or nil when the key is absent.
    public func leaf(for key: Hash, at version: Version) throws -> LeafNode? {
        var ref = try root(at: version).node
        var path = NibblePath.root
        while let r = ref {
            switch try load(NodeKey(version: r.version, path: path)) {
            case .leaf(let leaf):
                return leaf.key == key ? leaf : nil
            case .internal(let node):
                let nibble = key.nibble(path.count)
                ref = node.children[Int(nibble)]
                path = path.child(nibble)
            }
        }
        return nil
    }

    /// The value of `key` at `version`, or nil when absent.
    public func get(_ key: Hash, at version: Version) throws -> [UInt8]? {
        guard let leaf = try leaf(for: key, at: version) else { return nil }
        return try loadValue(of: leaf)
    }

    /// The value of `key` at `version` (nil when absent) with a proof of it against the root.
    public func proof(for key: Hash, at version: Version) throws -> (value: [UInt8]?, proof: SparseMerkleProof) {
        var siblings: [Hash] = []
        func finish(_ leaf: LeafNode?) throws -> (value: [UInt8]?, proof: SparseMerkleProof) {
            guard let leaf else { return (nil, SparseMerkleProof(siblings: siblings, terminal: .empty)) }
            let proof = SparseMerkleProof(siblings: siblings, terminal: .leaf(key: leaf.key, valueHash: leaf.valueHash))
            return (leaf.key == key ? try loadValue(of: leaf) : nil, proof)
        }
        guard var ref = try root(at: version).node else { return try finish(nil) }
        var path = NibblePath.root
        while true {
            let node = try load(NodeKey(version: ref.version, path: path))
            guard case .internal(let inner) = node else {
                guard case .leaf(let leaf) = node else { preconditionFailure() }
                return try finish(leaf)
            }
            let levels = inner.binaryLevels()
            let nibble = Int(key.nibble(path.count))
            for level in 1...4 {
                let index = (1 << level) + (nibble >> (4 - level))
                siblings.append(levels[index ^ 1])
                let h = levels[index]
                if h == TreeHash.empty { return try finish(nil) }
                if TreeHash.isLeaf(h) {
                    return try finish(try loadLeaf(soleLeaf(in: inner, heapIndex: index, path: path)))
                }
            }
            guard let next = inner.children[nibble] else {
                throw StateTreeError.corrupt("child \(nibble) of \(path) vanished")
            }
            ref = next
            path = path.child(UInt8(nibble))
        }
    }

    /// The key of the only child under binary position `heapIndex` of `node` (a subtree whose
    /// commitment is a single leaf).
    func soleLeaf(in node: InternalNode, heapIndex: Int, path: NibblePath) throws -> NodeKey {
        let level = Int.bitWidth - 1 - heapIndex.leadingZeroBitCount
        let width = 1 << (4 - level)
        let first = (heapIndex - (1 << level)) * width
        for n in first..<(first + width) {
            if let c = node.children[n] {
                guard c.isLeaf else { break }
                return NodeKey(version: c.version, path: path.child(UInt8(n)))
            }
        }
        throw StateTreeError.corrupt("node \(path) has no single leaf where its hashes say so")
    }

    /// A multiproof for `keys` at `version` (nil: the empty tree): the partial tree that proves each
    /// key's value or absence, carrying the values of present keys, from which `WitnessTree`
    /// recomputes the root and applies updates without the store.
    ///
    /// Sibling subtrees that are single leaves are shown as leaves (key and value hash), never as
    /// opaque hashes: a deletion can collapse such a leaf onto a witnessed path, and a later insert
    /// there must know its key to split it.
    public func witness(for keys: [Hash], at version: Version?) throws -> Witness {
        let sorted = Array(Set(keys)).sorted()
        guard let version, let root = try root(at: version).node else { return Witness(root: .empty) }
        return Witness(root: try expand(root, path: .root, keys: sorted[...]))
    }

    func expand(_ ref: Child, path: NibblePath, keys: ArraySlice<Hash>) throws -> WitnessNode {
        if keys.isEmpty, !ref.isLeaf { return .opaque(ref.hash) }
        switch try load(NodeKey(version: ref.version, path: path)) {
        case .leaf(let leaf):
            return try leafWitness(leaf, keys: keys)
        case .internal(let node):
            return try expand(node, levels: node.binaryLevels(), heapIndex: 1, path: path, keys: keys)
        }
    }

    func expand(
        _ node: InternalNode, levels: [Hash], heapIndex: Int, path: NibblePath, keys: ArraySlice<Hash>
    ) throws -> WitnessNode {
        let h = levels[heapIndex]
        if h == TreeHash.empty { return .empty }
        if keys.isEmpty, !TreeHash.isLeaf(h) { return .opaque(h) }
        if TreeHash.isLeaf(h) {
            return try leafWitness(loadLeaf(soleLeaf(in: node, heapIndex: heapIndex, path: path)), keys: keys)
        }
        if heapIndex >= 16 {
            let nibble = heapIndex - 16
            guard let child = node.children[nibble] else {
                throw StateTreeError.corrupt("child \(nibble) of \(path) vanished")
            }
            return try expand(child, path: path.child(UInt8(nibble)), keys: keys)
        }
        let depth = 4 * path.count + (Int.bitWidth - 1 - heapIndex.leadingZeroBitCount)
        let split = keys.firstIndex { $0.bit(depth) } ?? keys.endIndex
        return .branch(
            try expand(node, levels: levels, heapIndex: 2 * heapIndex, path: path, keys: keys[..<split]),
            try expand(node, levels: levels, heapIndex: 2 * heapIndex + 1, path: path, keys: keys[split...]))
    }

    func leafWitness(_ leaf: LeafNode, keys: ArraySlice<Hash>) throws -> WitnessNode {
        if keys.contains(leaf.key) { return .leafWithValue(key: leaf.key, value: try loadValue(of: leaf)) }
        return .leaf(key: leaf.key, valueHash: leaf.valueHash)
    }

    /// Computes version `version` from version `base` (nil: the empty tree) with `updates` applied
    /// (a nil value deletes the key). Later entries for the same key win. Nothing is written: the
    /// caller commits the returned batch. `version` must exceed `base` and every stored version.
    ///
    /// With `parallelReaders`, a large update splits the root's subtrees across the cores, each worker
    /// reading through its own reader from the provider. The result is byte-identical to a serial
    /// update; the provider's readers must see the base version (any snapshot taken after it was
    /// committed does: stored nodes are never changed, only added and pruned).
    public func update(
        base: Version?, version: Version, updates: [(key: Hash, value: [UInt8]?)],
        parallelReaders: (any TreeReaderProvider)? = nil
    ) throws -> TreeUpdateBatch {
        if let base, base >= version { throw StateTreeError.versionNotIncreasing(base: base, new: version) }
        if let latest = try reader.latestVersion(), latest >= version {
            throw StateTreeError.versionNotIncreasing(base: base, new: version)
        }
        let root = try base.map { try self.root(at: $0) }?.node
        let updater = Updater(tree: self, version: version)
        let newRoot = try updater.run(root: root, updates: Updater.normalize(updates), readers: parallelReaders)
        // Sort by encoded key — (depth, prefix), as every node has the same version — through plain
        // keys and an index permutation, so the nodes themselves are moved once.
        let keys = updater.newNodes.map { $0.key.path }
        let order = keys.indices.sorted { a, b in
            keys[a].count != keys[b].count ? keys[a].count < keys[b].count : keys[a].prefix < keys[b].prefix
        }
        let nodes = order.map { updater.newNodes[$0] }
        return TreeUpdateBatch(
            version: version, root: newRoot, newNodes: nodes,
            newValues: updater.newValues.sorted { $0.key < $1.key },
            staleNodes: updater.staleNodes, staleValues: updater.staleValues)
    }
}

/// One update pass: walks the stored nodes the updates touch and records what to write.
final class Updater {
    struct Update {
        var key: Hash
        var value: [UInt8]?
        var valueHash: Hash
    }

    /// A leaf waiting for its final position; `storedAt` is where it is stored now, if anywhere.
    struct PendingLeaf {
        var leaf: LeafNode
        var hash: Hash
        var storedAt: NodeKey?
    }

    enum Subtree {
        case empty
        case leaf(PendingLeaf)
        /// An internal node, already written (or unchanged), referenced by its parent as `Child`.
        case internalNode(Child)
    }

    let tree: StateTree
    let version: Version
    var newNodes: [(key: NodeKey, node: Node)] = []
    var newValues: [(key: Hash, value: [UInt8])] = []
    var staleNodes: [NodeKey] = []
    var staleValues: [(key: Hash, version: Version)] = []
    /// Where each new internal node sits in `newNodes`, by path (one node per path per version).
    var indexByPath: [NibblePath: Int] = [:]

    init(tree: StateTree, version: Version) {
        self.tree = tree
        self.version = version
    }

    /// Sorts updates by key, keeping the last entry of each key, and hashes the values.
    static func normalize(_ updates: [(key: Hash, value: [UInt8]?)]) -> [Update] {
        var order = updates.indices.map { (key: updates[$0].key, index: $0) }
        order.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
        var out: [Update] = []
        out.reserveCapacity(updates.count)
        for (_, i) in order {
            let (key, value) = updates[i]
            let update = Update(key: key, value: value, valueHash: value.map(TreeHash.value) ?? .zero)
            if let last = out.last, last.key == key { out[out.count - 1] = update } else { out.append(update) }
        }
        return out
    }

    /// Updates with fewer writes than this stay on one thread.
    static let parallelThreshold = 1024

    func run(root: Child?, updates: [Update], readers: (any TreeReaderProvider)?) throws -> RootRecord {
        let result: Subtree
        if let readers, let root, !root.isLeaf, updates.count >= Self.parallelThreshold, Self.workers > 1 {
            result = try updateRootInParallel(root, updates: updates, readers: readers)
        } else {
            result = try update(root, path: .root, updates: updates[...])
        }
        guard var rootChild = place(result, at: .root) else { return RootRecord(node: nil) }
        let hashes = hashNewInternalNodes()
        if rootChild.version == version, !rootChild.isLeaf, let index = indexByPath[.root] {
            rootChild.hash = hashes[index]
        }
        return RootRecord(node: rootChild)
    }

    /// Stands in for the commitment of an internal node written by this pass until
    /// `hashNewInternalNodes` computes it; never leaves the updater.
    static let pendingHash = Hash(w0: .max, w1: .max, w2: .max, w3: .max - 1)

    /// Computes the commitments of the internal nodes this pass wrote, deepest first, filling each
    /// parent's child references before hashing it. Nodes of one depth do not depend on each other,
    /// so a large level is hashed on all cores. Returns the commitments by index in `newNodes`.
    func hashNewInternalNodes() -> [Hash] {
        var byDepth = [[Int]](repeating: [], count: 65)
        for (i, entry) in newNodes.enumerated() {
            if case .internal = entry.node { byDepth[entry.key.path.count].append(i) }
        }
        var hashes = [Hash](repeating: .zero, count: newNodes.count)
        for depth in stride(from: 64, through: 0, by: -1) where !byDepth[depth].isEmpty {
            let indices = byDepth[depth]
            for i in indices {
                guard case .internal(var node) = newNodes[i].node else { continue }
                let path = newNodes[i].key.path
                for n in 0..<16 {
                    guard let c = node.children[n], c.version == version, !c.isLeaf,
                        let child = indexByPath[path.child(UInt8(n))]
                    else { continue }
                    node.children[n]!.hash = hashes[child]
                }
                newNodes[i].node = .internal(node)
            }
            hashes.withUnsafeMutableBufferPointer { out in
                newNodes.withUnsafeBufferPointer { nodes in
                    let job = HashJob(nodes: nodes, indices: indices, out: out)
                    let workers = indices.count >= 256 ? Self.workers : 1
                    if workers == 1 {
                        job.run(worker: 0, of: 1)
                    } else {
                        DispatchQueue.concurrentPerform(iterations: workers) { job.run(worker: $0, of: workers) }
                    }
                }
            }
        }
        return hashes
    }

    /// How many threads hash a large level.
    static let workers = max(1, min(8, sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// One level's hashing, split across workers by stride; each writes only its own slots.
    struct HashJob: @unchecked Sendable {
        let nodes: UnsafeBufferPointer<(key: NodeKey, node: Node)>
        let indices: [Int]
        let out: UnsafeMutableBufferPointer<Hash>

        func run(worker: Int, of workers: Int) {
            var k = worker
            while k < indices.count {
                let i = indices[k]
                if case .internal(let node) = nodes[i].node { out[i] = node.hash }
                k += workers
            }
        }
    }

    func newLeaf(_ u: Update, _ value: [UInt8]) -> PendingLeaf {
        newValues.append((u.key, value))
        let leaf = LeafNode(key: u.key, valueHash: u.valueHash, valueVersion: version)
        return PendingLeaf(leaf: leaf, hash: leaf.hash, storedAt: nil)
    }

    /// Gives a subtree its final position under `path`, writing a leaf that moved or changed.
    func place(_ subtree: Subtree, at path: NibblePath) -> Child? {
        switch subtree {
        case .empty:
            return nil
        case .internalNode(let child):
            return child
        case .leaf(let pending):
            if let at = pending.storedAt {
                if at.path == path { return Child(hash: pending.hash, version: at.version, isLeaf: true) }
                staleNodes.append(at)
            }
            newNodes.append((NodeKey(version: version, path: path), .leaf(pending.leaf)))
            return Child(hash: pending.hash, version: version, isLeaf: true)
        }
    }

    func update(_ ref: Child?, path: NibblePath, updates: ArraySlice<Update>) throws -> Subtree {
        guard let ref else {
            var leaves: [PendingLeaf] = []
            for u in updates { if let value = u.value { leaves.append(newLeaf(u, value)) } }
            return try build(path: path, leaves: leaves[...])
        }
        let key = NodeKey(version: ref.version, path: path)
        switch try tree.load(key) {
        case .leaf(let existing):
            return try merge(existing, storedAt: key, path: path, updates: updates)
        case .internal(let node):
            return try update(node, ref: ref, key: key, updates: updates)
        }
    }

    /// Merges the updates that reach an existing leaf with it, keeping the leaves sorted by key.
    func merge(_ existing: LeafNode, storedAt key: NodeKey, path: NibblePath, updates: ArraySlice<Update>) throws
        -> Subtree
    {
        let kept = PendingLeaf(leaf: existing, hash: existing.hash, storedAt: key)
        var leaves: [PendingLeaf] = []
        var changed = false
        var existingPlaced = false
        for u in updates {
            if !existingPlaced, existing.key < u.key {
                leaves.append(kept)
                existingPlaced = true
            }
            if u.key == existing.key {
                existingPlaced = true
                if let value = u.value {
                    if u.valueHash == existing.valueHash {
                        leaves.append(kept)
                        continue
                    }
                    leaves.append(newLeaf(u, value))
                }
                changed = true
                staleNodes.append(key)
                staleValues.append((existing.key, existing.valueVersion))
            } else if let value = u.value {
                changed = true
                leaves.append(newLeaf(u, value))
            }
        }
        if !existingPlaced { leaves.append(kept) }
        guard changed else { return .leaf(kept) }
        return try build(path: path, leaves: leaves[...])
    }

    /// The updates split by their nibble at `depth` (they are sorted, so each nibble is one run).
    static func groups(_ updates: ArraySlice<Update>, depth: Int) -> [(nibble: Int, range: Range<Int>)] {
        var out: [(nibble: Int, range: Range<Int>)] = []
        var start = updates.startIndex
        while start < updates.endIndex {
            let nibble = updates[start].key.nibble(depth)
            var end = start + 1
            while end < updates.endIndex, updates[end].key.nibble(depth) == nibble { end += 1 }
            out.append((Int(nibble), start..<end))
            start = end
        }
        return out
    }

    func update(_ node: InternalNode, ref: Child, key: NodeKey, updates: ArraySlice<Update>) throws -> Subtree {
        var results: [(nibble: Int, subtree: Subtree)] = []
        for (nibble, range) in Self.groups(updates, depth: key.path.count) {
            let child = node.children[nibble]
            results.append((nibble, try update(child, path: key.path.child(UInt8(nibble)), updates: updates[range])))
        }
        return try assemble(node, ref: ref, key: key, results: results)
    }

    /// Updates the root's child subtrees on several threads, then merges their records in nibble
    /// order (exactly the serial order) and assembles the root as usual. The calling thread works
    /// through this updater's own reader (it may be inside the caller's transaction); the other
    /// workers each take a reader from `readers`.
    func updateRootInParallel(_ root: Child, updates: [Update], readers: any TreeReaderProvider) throws -> Subtree {
        let key = NodeKey(version: root.version, path: .root)
        guard case .internal(let node) = try tree.load(key) else {
            return try update(root, path: .root, updates: updates[...])
        }
        let groups = Self.groups(updates[...], depth: 0)
        let workers = min(Self.workers, groups.count)
        let shared = Mutex(ParallelState(groups: groups.count))
        let version = self.version
        let work: @Sendable (Int, StateTree) throws -> Void = { worker, tree in
            for g in stride(from: worker, to: groups.count, by: workers) {
                let (nibble, range) = groups[g]
                let sub = Updater(tree: tree, version: version)
                let subtree = try sub.update(
                    node.children[nibble], path: NibblePath.root.child(UInt8(nibble)), updates: updates[range])
                shared.withLock { $0.finished[g] = (sub, subtree) }
            }
        }
        let fail: @Sendable (any Error) -> Void = { error in shared.withLock { if $0.error == nil { $0.error = error } }
        }
        let others = DispatchGroup()
        for worker in 1..<workers {
            DispatchQueue.global().async(group: others) {
                do { try readers.withReader { try work(worker, StateTree($0)) } } catch { fail(error) }
            }
        }
        do { try work(0, tree) } catch { fail(error) }
        others.wait()
        let state = shared.withLock { $0 }
        if let error = state.error { throw error }
        var results: [(nibble: Int, subtree: Subtree)] = []
        for (g, group) in groups.enumerated() {
            guard let (sub, subtree) = state.finished[g] else {
                throw StateTreeError.corrupt("a parallel update left no result")
            }
            absorb(sub)
            results.append((group.nibble, subtree))
        }
        return try assemble(node, ref: root, key: key, results: results)
    }

    /// What the workers of a parallel update hand back, per group of updates.
    struct ParallelState: @unchecked Sendable {
        var finished: [(Updater, Subtree)?]
        var error: (any Error)?

        init(groups: Int) { finished = Array(repeating: nil, count: groups) }
    }

    /// Takes over another updater's records (its node indices shift by this one's count).
    func absorb(_ other: Updater) {
        let offset = newNodes.count
        newNodes += other.newNodes
        for (path, index) in other.indexByPath { indexByPath[path] = index + offset }
        newValues += other.newValues
        staleNodes += other.staleNodes
        staleValues += other.staleValues
    }

    /// Builds the node at `key` from its children's update results: unchanged, collapsed to a single
    /// leaf, emptied, or rewritten.
    func assemble(_ node: InternalNode, ref: Child, key: NodeKey, results: [(nibble: Int, subtree: Subtree)]) throws
        -> Subtree
    {
        let path = key.path
        var unchanged = true
        var touched = [Bool](repeating: false, count: 16)
        for (nibble, subtree) in results {
            touched[nibble] = true
            let original = node.children[nibble]
            switch subtree {
            case .empty:
                if original != nil { unchanged = false }
            case .internalNode(let child):
                if child != original { unchanged = false }
            case .leaf(let pending):
                if let original, original.isLeaf,
                    pending.storedAt == NodeKey(version: original.version, path: path.child(UInt8(nibble)))
                {
                    continue
                }
                unchanged = false
            }
        }
        if unchanged { return .internalNode(ref) }
        staleNodes.append(key)

        var remaining: [Int] = []
        for n in 0..<16 {
            if touched[n] {
                if let r = results.first(where: { $0.nibble == n }), case .empty = r.subtree { continue }
                remaining.append(n)
            } else if node.children[n] != nil {
                remaining.append(n)
            }
        }
        if remaining.isEmpty { return .empty }
        if remaining.count == 1 {
            let n = remaining[0]
            if touched[n] {
                if let r = results.first(where: { $0.nibble == n }), case .leaf(let pending) = r.subtree {
                    return .leaf(pending)
                }
            } else if let child = node.children[n], child.isLeaf {
                let at = NodeKey(version: child.version, path: path.child(UInt8(n)))
                return .leaf(PendingLeaf(leaf: try tree.loadLeaf(at), hash: child.hash, storedAt: at))
            }
        }

        var children = node.children
        for (nibble, subtree) in results { children[nibble] = place(subtree, at: path.child(UInt8(nibble))) }
        return write(InternalNode(children: children), at: path)
    }

    func build(path: NibblePath, leaves: ArraySlice<PendingLeaf>) throws -> Subtree {
        if leaves.isEmpty { return .empty }
        if leaves.count == 1 { return .leaf(leaves[leaves.startIndex]) }
        var children = [Child?](repeating: nil, count: 16)
        var start = leaves.startIndex
        while start < leaves.endIndex {
            let nibble = leaves[start].leaf.key.nibble(path.count)
            var end = start + 1
            while end < leaves.endIndex, leaves[end].leaf.key.nibble(path.count) == nibble { end += 1 }
            let childPath = path.child(nibble)
            children[Int(nibble)] = place(try build(path: childPath, leaves: leaves[start..<end]), at: childPath)
            start = end
        }
        return write(InternalNode(children: children), at: path)
    }

    /// Records a new internal node; its commitment is computed after the walk (`hashNewInternalNodes`).
    func write(_ node: InternalNode, at path: NibblePath) -> Subtree {
        indexByPath[path] = newNodes.count
        newNodes.append((NodeKey(version: version, path: path), .internal(node)))
        return .internalNode(Child(hash: Self.pendingHash, version: version, isLeaf: false))
    }
}
