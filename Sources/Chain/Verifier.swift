import Config
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// Progress of long work: a phase, units done and the total (0 when unknown).
public typealias ProgressSink = (_ phase: String, _ done: UInt64, _ total: UInt64) -> Void

/// The first problem a verification found, named precisely (`height`: the block that does not
/// re-execute, when that is the problem).
public struct VerificationProblem: Error, Sendable {
    public var message: String
    /// The block that does not re-execute to what is stored, and what differs.
    public var block: (height: UInt64, what: String)?

    public init(_ message: String) { self.message = message }

    /// A block whose re-execution differs from what is stored.
    public init(height: UInt64, what: String) {
        message = "block \(height) does not verify: \(what)"
        block = (height, what)
    }

    /// Runs `body`, turning a stored value that does not decode into a problem naming `what`.
    public static func decoding<T>(_ body: () throws -> T, _ what: @autoclosure () -> String) throws -> T {
        do { return try body() } catch let error as StorageError {
            if case .decoding = error { throw VerificationProblem("\(what()) is damaged: \(error)") }
            throw error
        } catch let error as StateTreeError {
            throw VerificationProblem("\(what()) is damaged: \(error)")
        }
    }
}

/// A tree reader that hides every version above `latest`, so `StateTree.update` can recompute a
/// stored version without writing anything.
struct CappedTreeReader: TreeReader {
    let base: any TreeReader
    let latest: Version

    func node(_ key: NodeKey) throws -> Node? { try base.node(key) }
    func value(key: Hash, version: Version) throws -> [UInt8]? { try base.value(key: key, version: version) }
    func root(at version: Version) throws -> RootRecord? { version > latest ? nil : try base.root(at: version) }
    func latestVersion() throws -> Version? { latest }
}

/// THE verifier of a rollup store, behind `ChainStore.verify()`, `db verify` and `snapshot verify`:
/// every header where its height says and indexed by its hash, every body's transactions indexed;
/// the stored state tree rehashed (root records, every node's children, every leaf's value); every
/// block re-executed by the block rule on the stored state before it, its receipts and every root
/// compared; every batch decoded and compared with the stored blocks. Reads in short transactions
/// over the heights up to the head it found first, so it is safe on a live store and never pins
/// old pages for long.
public struct ChainVerifier {
    public let environment: Environment
    public let rollup: RollupParameters
    public let network: Network
    /// Entries per read transaction.
    public var chunkEntries = 4096

    public init(environment: Environment, rollup: RollupParameters, network: Network) {
        self.environment = environment
        self.rollup = rollup
        self.network = network
    }

    /// What a verification checked, and the first problem (nil: everything verifies).
    public struct Report: Sendable {
        public var head: UInt64
        public var blocks: UInt64 = 0
        public var stateNodes = 0
        public var stateValues = 0
        public var batches = 0
        /// Batches whose frame does not decode, accepted because their blocks are the empty blocks
        /// derivation makes of a blob that does not decode. Only the L1 (`db check-l1`) can tell such a
        /// batch from a damaged record of one that decoded.
        public var undecodableBatches = 0
        public var problem: VerificationProblem?
    }

    /// Verifies the store up to its head; `reexecute: false` skips the re-execution.
    public func verify(head: UInt64, reexecute: Bool = true, progress: ProgressSink? = nil) throws -> Report {
        var report = Report(head: head)
        do {
            try checkHeaders(head: head, progress: progress)
            (report.stateNodes, report.stateValues) = try checkStateTree(head: head, progress: progress)
            if reexecute {
                try self.reexecute(head: head, progress: progress)
                report.blocks = head
            }
            (report.batches, report.undecodableBatches) = try checkBatches(head: head, progress: progress)
        } catch let problem as VerificationProblem {
            report.problem = problem
        }
        return report
    }

    /// Every header is where its height says, indexed by its hash; every body's transactions are
    /// indexed where they are; genesis is the genesis file's.
    func checkHeaders(head: UInt64, progress: ProgressSink?) throws {
        let genesis = try rollup.genesisBlock()
        var height: UInt64 = 0
        while height <= head {
            let end = min(head, height + 255)
            try environment.read { txn in
                for h in height...end {
                    guard let header = try VerificationProblem.decoding({ try txn.get(Headers.self, h) }, "header \(h)") else {
                        throw VerificationProblem("header \(h) is missing")
                    }
                    guard header.height == h, header.rollup == rollup.id else {
                        throw VerificationProblem("header \(h) is damaged: it says rollup \(header.rollup) height \(header.height)")
                    }
                    let indexed = try VerificationProblem.decoding(
                        { try txn.get(BlockHashes.self, header.hash) }, "the block_hashes entry of header \(h)")
                    if let indexed, indexed != h {
                        throw VerificationProblem(
                            "block_hashes is damaged: it maps header \(h)'s hash \(header.hash) to height \(indexed)")
                    }
                    guard indexed == h else {
                        throw VerificationProblem(
                            "header \(h) is damaged: its hash \(header.hash) is not the one block_hashes indexes for height \(h)"
                        )
                    }
                    if h == 0, header != genesis.block.header {
                        throw VerificationProblem("header 0 differs from the genesis file's genesis block")
                    }
                    guard let body = try VerificationProblem.decoding({ try txn.get(Bodies.self, h) }, "the body of block \(h)") else {
                        throw VerificationProblem("block \(h) has no body")
                    }
                    guard try VerificationProblem.decoding({ try txn.get(Receipts.self, h) }, "the receipts of block \(h)") != nil else {
                        throw VerificationProblem("block \(h) has no receipts")
                    }
                    for (i, tx) in body.transactions.enumerated() {
                        let location = try txn.get(TransactionIndex.self, tx.id)
                        guard location == TransactionLocation(height: h, index: UInt32(i)) else {
                            throw VerificationProblem(
                                "block \(h): transaction \(i) has id \(tx.id), which tx_index does not place at \(h)/\(i) (the body or the index is damaged)"
                            )
                        }
                    }
                }
            }
            progress?("headers", end, head)
            height = end + 1
        }
    }

    /// Rehashes the stored state tree: every root record against its root node, every internal
    /// node's child hashes against the stored children, every leaf against its stored value.
    func checkStateTree(head: UInt64, progress: ProgressSink?) throws -> (nodes: Int, values: Int) {
        // Root records.
        var version: UInt64 = 0
        while version <= head {
            let end = min(head, version + 1023)
            try environment.read { txn in
                for v in version...end {
                    guard let root = try VerificationProblem.decoding({ try txn.get(StateRoots.self, v) }, "state root record \(v)") else {
                        throw VerificationProblem("state version \(v) has no root record")
                    }
                    guard let ref = root.node else { continue }
                    let key = NodeKey(version: ref.version, path: .root)
                    guard let node = try VerificationProblem.decoding({ try txn.get(StateNodes.self, key) }, "state node \(name(key))")
                    else {
                        throw VerificationProblem("state version \(v): its root node \(name(key)) is missing")
                    }
                    guard node.hash == ref.hash, root.hash == ref.hash else {
                        throw VerificationProblem(
                            "state root record \(v) is damaged, or its root node \(name(key)) is: the record says \(root.hash), the node hashes to \(node.hash)"
                        )
                    }
                }
            }
            version = end + 1
        }
        // Nodes, in chunks of short read transactions; nodes above `head` are left for later.
        var nodes = 0
        var resume: [UInt8]?
        let total = try environment.read { try $0.count(StateNodes.self) }
        var done = false
        while !done {
            try environment.read { txn in
                var seen = 0
                done = true
                try txn.rawForEach(table: StateNodes.name, from: resume, reverse: false) { raw, value in
                    let key: NodeKey
                    do { key = try raw.withUnsafeBytes { try NodeKey(storageBytes: $0) } } catch {
                        throw VerificationProblem("state_nodes holds a damaged key 0x\(Hex.encode(raw)): \(error)")
                    }
                    guard key.version <= head else { return false }
                    if seen == chunkEntries {
                        resume = raw
                        done = false
                        return false
                    }
                    let node: Node
                    do { node = try value.withUnsafeBytes { try Node(storageBytes: $0) } } catch {
                        throw VerificationProblem("state node \(name(key)) is damaged: \(error)")
                    }
                    seen += 1
                    nodes += 1
                    try check(node, at: key, txn)
                    return true
                }
            }
            progress?("state", UInt64(nodes), UInt64(total))
        }
        var values = 0
        try environment.read { txn in
            try txn.rawForEach(table: StateValues.name, from: nil, reverse: false) { key, _ in
                guard key.count == 40 else { throw VerificationProblem("state_values holds a key of \(key.count) bytes") }
                let v = key.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                guard v <= head else { return false }
                values += 1
                return true
            }
        }
        return (nodes, values)
    }

    func name(_ key: NodeKey) -> String { "\(key.version):\(key.path)" }

    func check(_ node: Node, at key: NodeKey, _ txn: ReadTransaction) throws {
        switch node {
        case .leaf(let leaf):
            guard NibblePath(key: leaf.key, count: key.path.count) == key.path else {
                throw VerificationProblem("state node \(name(key)) is damaged: its leaf key \(leaf.key) is not below its path")
            }
            let valueKey = StateValueKey(version: leaf.valueVersion, key: leaf.key)
            guard let value = try txn.get(StateValues.self, valueKey) else {
                throw VerificationProblem("state value \(leaf.valueVersion):\(leaf.key) is missing (leaf \(name(key)) needs it)")
            }
            let hash = Hash.sha256(value)
            guard hash == leaf.valueHash else {
                throw VerificationProblem(
                    "state value \(leaf.valueVersion):\(leaf.key) is damaged: it hashes to \(hash), leaf \(name(key)) records \(leaf.valueHash)"
                )
            }
        case .internal(let inner):
            for (n, child) in inner.children.enumerated() {
                guard let child else { continue }
                let childKey = NodeKey(version: child.version, path: key.path.child(UInt8(n)))
                guard
                    let stored = try VerificationProblem.decoding({ try txn.get(StateNodes.self, childKey) }, "state node \(name(childKey))")
                else { throw VerificationProblem("state node \(name(childKey)) is missing (node \(name(key)) refers to it)") }
                guard stored.hash == child.hash else {
                    throw VerificationProblem(
                        "state node \(name(childKey)) is damaged: it hashes to \(stored.hash), its parent \(name(key)) records \(child.hash)"
                    )
                }
            }
        }
    }


    /// Re-executes every block on the stored state before it (verified above) and compares every root.
    func reexecute(head: UInt64, progress: ProgressSink?) throws {
        let rules = ChainRules(rollup, network: network)
        // The L1 facts the chain's relays used, and where each block's blob landed on the L1 (a
        // block executes at min(its L1 origin, its blob's L1 height)).
        let (facts, blobHeights) = try environment.read {
            txn -> (L1Facts, [(first: UInt64, last: UInt64, l1: UInt64)]) in
            let facts = try ChainStore.recordedFacts(in: txn)
            var blobs: [(first: UInt64, last: UInt64, l1: UInt64)] = []
            try txn.forEach(Batches.self) { _, batch in
                if batch.l1Height != 0 {
                    blobs.append((batch.header.firstHeight, batch.header.lastHeight, batch.l1Height))
                }
                return true
            }
            return (facts, blobs)
        }
        func limit(_ h: UInt64) -> UInt64? { blobHeights.first { $0.first <= h && h <= $0.last }?.l1 }
        var height: UInt64 = 1
        while height <= head {
            // One read transaction per 64 blocks or about `chunkEntries` transactions, whichever comes first.
            var end = height
            var transactions = 0
            try environment.read { txn in
                for h in height...head {
                    if h > height, h - height >= 64 || transactions >= chunkEntries { break }
                    end = h
                    guard let header = try txn.get(Headers.self, h), let parent = try txn.get(Headers.self, h - 1),
                        let body = try txn.get(Bodies.self, h), let stored = try txn.get(Receipts.self, h)
                    else { throw VerificationProblem("block \(h): header, body or receipts missing") }
                    func fail(_ what: String) -> VerificationProblem { VerificationProblem(height: h, what: what) }
                    transactions += body.transactions.count
                    let reader = CappedTreeReader(base: LMDBTreeReader(txn), latest: h - 1)
                    let tree = StateTree(reader)
                    // The stored block must be exactly what the block rule makes of its own body.
                    let ruled = try BlockRule.apply(
                        body.transactions, origin: header.l1Origin, timestamp: header.timestamp, parent: parent,
                        rules: rules,
                        l1: facts, blobL1Height: limit(h),
                        state: StateOverlay(base: TreeStateReader(tree: tree, version: h - 1)), checkSignatures: true)
                    if let invalid = ruled.dropped.first { throw fail("an invalid transaction: \(invalid.reason)") }
                    guard ruled.receipts == stored.receipts else { throw fail("receipts differ from re-execution") }
                    let batch = try tree.update(base: h - 1, version: h, updates: ruled.writes)
                    let differences = BlockRule.differences(
                        claimed: header, canonical: ruled.header(parent: parent, stateRoot: batch.rootHash))
                    guard differences.isEmpty else { throw fail(differences.joined(separator: "; ")) }
                    let storedRoot = try txn.get(StateRoots.self, h)?.hash
                    guard storedRoot == batch.rootHash else {
                        throw fail(
                            "the stored state tree's root \(storedRoot?.hex ?? "none"), re-executed \(batch.rootHash)")
                    }
                }
            }
            progress?("blocks", end, head)
            height = end + 1
        }
    }

    /// Every batch decompresses to exactly the stored blocks (or, for a follower, the posted claim
    /// it kept where the sequencer's header was wrong); sequence numbers and heights run without gaps.
    func checkBatches(head: UInt64, progress: ProgressSink?) throws -> (
        batches: Int, undecodable: Int
    ) {
        var next: UInt64 = 0
        var count = 0
        var undecodable = 0
        var expectedFirst: UInt64 = 1
        while true {
            let record = try environment.read { txn -> PostedBatch? in
                try VerificationProblem.decoding({ try txn.get(Batches.self, next) }, "batch \(next)")
            }
            guard let batch = record else { break }
            let h = batch.header
            let name = "batch \(next) (blocks \(h.firstHeight)…\(h.lastHeight))"
            guard h.lastHeight <= head else { break }
            guard h.seq == next, h.rollup == rollup.id, h.firstHeight == expectedFirst else {
                throw VerificationProblem(
                    "\(name) is damaged or out of order: header says rollup \(h.rollup) seq \(h.seq), expected first height \(expectedFirst)"
                )
            }
            let blocks: [Block]
            do { blocks = try BatchCodec.decode(batch.frame, header: h) } catch {
                // A batch the L1 holds that is not in DA: its blocks are empty blocks.
                try environment.read { txn in
                    for height in h.firstHeight...h.lastHeight {
                        guard let body = try txn.get(Bodies.self, height), body.transactions.isEmpty else {
                            throw VerificationProblem(
                                "\(name) is damaged: \(error) (and block \(height) is not the empty block such a batch derives as)")
                        }
                    }
                }
                count += 1
                undecodable += 1
                expectedFirst = h.lastHeight + 1
                next += 1
                continue
            }
            try environment.read { txn in
                for block in blocks {
                    let height = block.header.height
                    guard let header = try txn.get(Headers.self, height), let body = try txn.get(Bodies.self, height)
                    else { throw VerificationProblem("\(name): block \(height) is not in the store") }
                    if block == Block(header: header, transactions: body.transactions) { continue }
                    if let claim = try txn.get(Claims.self, height), claim == block { continue }
                    throw VerificationProblem("\(name): block \(height) in the batch differs from the stored block")
                }
            }
            count += 1
            expectedFirst = h.lastHeight + 1
            next += 1
            progress?("batches", UInt64(count), 0)
        }
        return (count, undecodable)
    }
}
