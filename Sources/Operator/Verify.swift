import Chain
import L1Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// The result of `db verify`: what was checked and the first problem, named precisely.
public struct VerifyReport: Sendable {
    public var kind: StoreKind
    public var name: String
    public var head: UInt64
    public var blocks: UInt64 = 0
    public var stateNodes: Int = 0
    public var stateValues: Int = 0
    public var batches: Int = 0
    /// Batches whose frame does not decode, accepted because their blocks are the empty blocks
    /// derivation makes of a blob that does not decode. Only the L1 (`db check-l1`) can tell such a
    /// batch from a damaged record of one that decoded.
    public var undecodableBatches: Int = 0
    public var blobs: Int = 0
    /// The first problem found; nil when everything verifies.
    public var problem: String?

    public var ok: Bool { problem == nil }

    public var json: JSONValue {
        var json: [String: JSONValue] = [
            "ok": .bool(ok), "kind": .string(kind.rawValue), "name": .string(name), "head": .number(head),
            "blocks": .number(blocks), "stateNodes": .number(stateNodes), "stateValues": .number(stateValues),
            "batches": .number(batches), "undecodableBatches": .number(UInt64(undecodableBatches)),
            "blobs": .number(blobs),
        ]
        if let problem { json["problem"] = .string(problem) }
        return .object(json)
    }

    public var human: String {
        if let problem { return "FAILED: \(problem)" }
        switch kind {
        case .l1:
            return
                "ok: L1 store, blocks 0…\(head): header chain and entries roots match, \(blobs) blobs match their commitments"
        default:
            let blocks =
                self.blocks == head ? "blocks 1…\(head) re-executed, every root matches" : "headers 0…\(head) checked"
            let undecodable =
                undecodableBatches == 0
                ? ""
                : " (\(undecodableBatches) of them do not decode and hold only empty blocks, as derivation makes of such a blob; `db check-l1` compares them with the L1)"
            return
                "ok: \(name), \(blocks); \(stateNodes) state nodes and \(stateValues) state values rehashed up to the state root; \(batches) batches decompress to the stored blocks"
                + undecodable
        }
    }
}

/// A problem found while verifying.
struct Found: Error {
    var message: String
    init(_ message: String) { self.message = message }
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

/// Progress of long work: a phase, units done and the total (0 when unknown).
public typealias ProgressSink = (_ phase: String, _ done: UInt64, _ total: UInt64) -> Void

extension InspectedStore {
    /// Verifies the store: a rollup store against `genesis` (headers, indices, every state node and
    /// value rehashed, every block re-executed with its roots compared, every batch decoded and
    /// compared with the stored blocks); an L1 store's header chain, entries roots and blob commitments.
    /// Reads in short transactions over the heights up to the head it found first, so it is safe on a
    /// live store and never pins old pages for long.
    public func verify(genesis: Genesis?, reexecute: Bool = true, progress: ProgressSink? = nil) throws
        -> VerifyReport
    {
        switch kind {
        case .rollup:
            guard let genesis else { throw OperatorError("verifying a rollup store needs its --genesis") }
            return try verifyRollup(genesis: genesis, reexecute: reexecute, progress: progress)
        case .l1:
            return try verifyL1(progress: progress)
        case .unknown:
            throw OperatorError("\(path) is neither a rollup nor an L1 store")
        }
    }

    func verifyRollup(genesis: Genesis, reexecute: Bool, progress: ProgressSink?) throws -> VerifyReport {
        let rollup = try self.rollup(genesis: genesis)
        guard let head = try rollupHead() else { throw OperatorError("\(path) has no head pointer") }
        var report = VerifyReport(kind: .rollup, name: rollup.name, head: head)
        do {
            try checkHeaders(rollup: rollup, head: head, progress: progress)
            (report.stateNodes, report.stateValues) = try checkStateTree(head: head, progress: progress)
            if reexecute {
                try self.reexecute(rollup: rollup, network: Network(genesis), head: head, progress: progress)
                report.blocks = head
            }
            (report.batches, report.undecodableBatches) = try checkBatches(
                rollup: rollup, head: head, progress: progress)
        } catch let found as Found {
            report.problem = found.message
        }
        return report
    }

    /// Every header is where its height says, indexed by its hash; every body's transactions are
    /// indexed where they are; genesis is the genesis file's.
    func checkHeaders(rollup: RollupParameters, head: UInt64, progress: ProgressSink?) throws {
        let genesis = try rollup.genesisBlock()
        var height: UInt64 = 0
        while height <= head {
            let end = min(head, height + 255)
            try environment.read { txn in
                for h in height...end {
                    guard let header = try decoded({ try txn.get(Headers.self, h) }, "header \(h)") else {
                        throw Found("header \(h) is missing")
                    }
                    guard header.height == h, header.rollup == rollup.id else {
                        throw Found("header \(h) is damaged: it says rollup \(header.rollup) height \(header.height)")
                    }
                    let indexed = try decoded(
                        { try txn.get(BlockHashes.self, header.hash) }, "the block_hashes entry of header \(h)")
                    if let indexed, indexed != h {
                        throw Found(
                            "block_hashes is damaged: it maps header \(h)'s hash \(header.hash) to height \(indexed)")
                    }
                    guard indexed == h else {
                        throw Found(
                            "header \(h) is damaged: its hash \(header.hash) is not the one block_hashes indexes for height \(h)"
                        )
                    }
                    if h == 0, header != genesis.block.header {
                        throw Found("header 0 differs from the genesis file's genesis block")
                    }
                    guard let body = try decoded({ try txn.get(Bodies.self, h) }, "the body of block \(h)") else {
                        throw Found("block \(h) has no body")
                    }
                    guard try decoded({ try txn.get(Receipts.self, h) }, "the receipts of block \(h)") != nil else {
                        throw Found("block \(h) has no receipts")
                    }
                    for (i, tx) in body.transactions.enumerated() {
                        let location = try txn.get(TransactionIndex.self, tx.id)
                        guard location == TransactionLocation(height: h, index: UInt32(i)) else {
                            throw Found(
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
                    guard let root = try decoded({ try txn.get(StateRoots.self, v) }, "state root record \(v)") else {
                        throw Found("state version \(v) has no root record")
                    }
                    guard let ref = root.node else { continue }
                    let key = NodeKey(version: ref.version, path: .root)
                    guard let node = try decoded({ try txn.get(StateNodes.self, key) }, "state node \(name(key))")
                    else {
                        throw Found("state version \(v): its root node \(name(key)) is missing")
                    }
                    guard node.hash == ref.hash, root.hash == ref.hash else {
                        throw Found(
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
                    do { key = try TableCodec.decode(NodeKey.self, raw) } catch {
                        throw Found("state_nodes holds a damaged key \(Render.hex(raw)): \(error)")
                    }
                    guard key.version <= head else { return false }
                    if seen == chunkEntries {
                        resume = raw
                        done = false
                        return false
                    }
                    let node: Node
                    do { node = try TableCodec.decode(Node.self, value) } catch {
                        throw Found("state node \(name(key)) is damaged: \(error)")
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
                guard key.count == 40 else { throw Found("state_values holds a key of \(key.count) bytes") }
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
                throw Found("state node \(name(key)) is damaged: its leaf key \(leaf.key) is not below its path")
            }
            let valueKey = StateValueKey(version: leaf.valueVersion, key: leaf.key)
            guard let value = try txn.get(StateValues.self, valueKey) else {
                throw Found("state value \(leaf.valueVersion):\(leaf.key) is missing (leaf \(name(key)) needs it)")
            }
            let hash = Hash.sha256(value)
            guard hash == leaf.valueHash else {
                throw Found(
                    "state value \(leaf.valueVersion):\(leaf.key) is damaged: it hashes to \(hash), leaf \(name(key)) records \(leaf.valueHash)"
                )
            }
        case .internal(let inner):
            for (n, child) in inner.children.enumerated() {
                guard let child else { continue }
                let childKey = NodeKey(version: child.version, path: key.path.child(UInt8(n)))
                guard
                    let stored = try decoded({ try txn.get(StateNodes.self, childKey) }, "state node \(name(childKey))")
                else { throw Found("state node \(name(childKey)) is missing (node \(name(key)) refers to it)") }
                guard stored.hash == child.hash else {
                    throw Found(
                        "state node \(name(childKey)) is damaged: it hashes to \(stored.hash), its parent \(name(key)) records \(child.hash)"
                    )
                }
            }
        }
    }

    /// Runs `body`, turning a stored value that does not decode into a problem naming `what`.
    func decoded<T>(_ body: () throws -> T, _ what: @autoclosure () -> String) throws -> T {
        do { return try body() } catch let error as StorageError {
            if case .decoding = error { throw Found("\(what()) is damaged: \(error)") }
            throw error
        } catch let error as StateTreeError {
            throw Found("\(what()) is damaged: \(error)")
        }
    }

    /// Re-executes every block on the stored state before it (verified above) and compares every root.
    func reexecute(rollup: RollupParameters, network: Network, head: UInt64, progress: ProgressSink?) throws {
        let sequencer = rollup.sequencer.publicKey.address
        // The L1 facts the chain's relays used, and where each block's blob landed on the L1 (a
        // block executes at min(its L1 origin, its blob's L1 height)).
        let (facts, blobHeights) = try environment.read {
            txn -> (L1Facts, [(first: UInt64, last: UInt64, l1: UInt64)]) in
            var facts: [RollupIndex: L1OutputFact] = [:]
            try txn.forEach(L1FactsTable.self) { key, fact in
                facts[key] = fact
                return true
            }
            var blobs: [(first: UInt64, last: UInt64, l1: UInt64)] = []
            try txn.forEach(Batches.self) { _, batch in
                if batch.l1Height != 0 {
                    blobs.append((batch.header.firstHeight, batch.header.lastHeight, batch.l1Height))
                }
                return true
            }
            return (L1Facts(facts), blobs)
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
                    else { throw Found("block \(h): header, body or receipts missing") }
                    func fail(_ what: String) -> Found { Found("block \(h) does not verify: \(what)") }
                    transactions += body.transactions.count
                    let reader = CappedTreeReader(base: LMDBTreeReader(txn), latest: h - 1)
                    let tree = StateTree(reader)
                    // The stored block must be exactly what the block rule makes of its own body.
                    let ruled = try BlockRule.apply(
                        body.transactions, origin: header.l1Origin, timestamp: header.timestamp, parent: parent,
                        rules: ChainRules(
                            rollup: rollup.id, sequencer: sequencer, nativeAsset: rollup.nativeAsset, network: network,
                            bytes: BlockBytes(block: Int(rollup.maxBlockBytes))),
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
    func checkBatches(rollup: RollupParameters, head: UInt64, progress: ProgressSink?) throws -> (
        batches: Int, undecodable: Int
    ) {
        var next: UInt64 = 0
        var count = 0
        var undecodable = 0
        var expectedFirst: UInt64 = 1
        while true {
            let record = try environment.read { txn -> PostedBatch? in
                try decoded({ try txn.get(Batches.self, next) }, "batch \(next)")
            }
            guard let batch = record else { break }
            let h = batch.header
            let name = "batch \(next) (blocks \(h.firstHeight)…\(h.lastHeight))"
            guard h.lastHeight <= head else { break }
            guard h.seq == next, h.rollup == rollup.id, h.firstHeight == expectedFirst else {
                throw Found(
                    "\(name) is damaged or out of order: header says rollup \(h.rollup) seq \(h.seq), expected first height \(expectedFirst)"
                )
            }
            let blocks: [Block]
            do { blocks = try BatchCodec.decode(batch.frame, header: h) } catch {
                // A batch the L1 holds that is not in DA: its blocks are empty blocks.
                try environment.read { txn in
                    for height in h.firstHeight...h.lastHeight {
                        guard let body = try txn.get(Bodies.self, height), body.transactions.isEmpty else {
                            throw Found(
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
                    else { throw Found("\(name): block \(height) is not in the store") }
                    if block == Block(header: header, transactions: body.transactions) { continue }
                    if let claim = try txn.get(Claims.self, height), claim == block { continue }
                    throw Found("\(name): block \(height) in the batch differs from the stored block")
                }
            }
            count += 1
            expectedFirst = h.lastHeight + 1
            next += 1
            progress?("batches", UInt64(count), 0)
        }
        return (count, undecodable)
    }

    func verifyL1(progress: ProgressSink?) throws -> VerifyReport {
        guard let head = try l1Head() else { throw OperatorError("\(path) has no L1 head pointer") }
        var report = VerifyReport(kind: .l1, name: "L1", head: head)
        do {
            var parent: L1BlockHeader?
            var height: UInt64 = 0
            while height <= head {
                let end = min(head, height + 255)
                try environment.read { txn in
                    for h in height...end {
                        guard let header = try decoded({ try txn.get(L1Headers.self, h) }, "L1 header \(h)"),
                            let body = try decoded({ try txn.get(L1Bodies.self, h) }, "L1 body \(h)")
                        else { throw Found("L1 block \(h) is missing its header or body") }
                        guard header.height == h, header.parent == (parent?.hash ?? .zero) else {
                            throw Found("L1 header \(h) is damaged or does not link to block \(h == 0 ? 0 : h - 1)")
                        }
                        let root = MerkleList.root(body.entries.map(\.id))
                        guard header.entriesRoot == root else {
                            throw Found("L1 block \(h): entries root \(header.entriesRoot), computed \(root)")
                        }
                        for entry in body.entries {
                            guard case .blob(let bh, let commitment, let size, _) = entry else { continue }
                            guard
                                let blob = try decoded(
                                    { try txn.get(Blobs.self, RollupIndexKey(bh.rollup, bh.seq)) },
                                    "blob \(bh.rollup):\(bh.seq)")
                            else { throw Found("L1 block \(h) accepted blob \(bh.rollup):\(bh.seq), which is missing") }
                            let actual = Hash.sha256(blob.frame)
                            guard actual == commitment, blob.commitment == commitment,
                                UInt64(blob.frame.count) == size, blob.header == bh
                            else {
                                throw Found(
                                    "blob \(bh.rollup):\(bh.seq) is damaged: its bytes hash to \(actual), L1 block \(h) committed to \(commitment)"
                                )
                            }
                            report.blobs += 1
                        }
                        parent = header
                    }
                }
                progress?("L1 blocks", end, head)
                height = end + 1
            }
            report.blocks = head
        } catch let found as Found {
            report.problem = found.message
        }
        return report
    }
}
