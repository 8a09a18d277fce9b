import Config
import Logging
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage
import Synchronization

/// The state after one block, valid only inside `ChainStore.withState`.
public struct StateView {
    /// The block whose post-state this is.
    public let header: BlockHeader
    let tree: StateTree
    /// Reads (and scratch writes that are never committed) over the state.
    public let state: StateOverlay

    public var height: UInt64 { header.height }
    public var accounts: Accounts { Accounts(state) }

    /// A proof of `key`'s value (or absence) against `header.stateRoot`.
    public func proof(of key: Hash) throws -> (value: [UInt8]?, proof: SparseMerkleProof) {
        try tree.proof(for: key, at: header.height)
    }
}

/// A block that was just committed, with what the sequencer needs to report.
public struct CommittedBlock: Sendable {
    public var block: Block
    public var receipts: [Receipt]
    /// Candidates left out because they were invalid when their turn came.
    public var dropped: [(transaction: SignedTransaction, reason: InvalidTransaction)]
    /// Candidates left out because the block reached its byte limit (they wait for the next one).
    public var deferred: [SignedTransaction] = []
}

/// A rollup's persistent chain: blocks, receipts, the transaction index and the state tree, in one
/// LMDB environment. Every block is committed in ONE write transaction together with its state
/// nodes and the head pointer, so the head is never ahead of the data and a crash loses nothing
/// that was committed.
public final class ChainStore: @unchecked Sendable {
    public let environment: Environment
    public let rollup: RollupParameters
    /// The genesis block's hash.
    public let genesisHash: Hash
    /// The devnet's rollups (who issues which asset, where messages may go): every rollup of the
    /// genesis, given when the store is opened so no opener can leave it out.
    public let network: Network

    /// Opens (creating and writing the genesis block if empty) the store in `datadir`.
    public convenience init(
        datadir: String, rollup: RollupParameters, network: Network,
        options: Environment.Options = Environment.Options()
    ) throws {
        try self.init(environment: Environment(path: datadir, options: options), rollup: rollup, network: network)
    }

    /// Uses an open environment (creating and writing the genesis block if it is empty).
    public init(environment: Environment, rollup: RollupParameters, network: Network) throws {
        self.rollup = rollup
        self.environment = environment
        self.network = network
        let options = environment.options
        let genesis = try rollup.genesisBlock()
        genesisHash = genesis.block.header.hash
        let stored: Hash? = try environment.read { txn in
            try txn.get(Meta.self, Meta.genesis).flatMap { Hash(bytes: $0) }
        }
        if let stored {
            guard stored == genesisHash else { throw ChainError.genesisMismatch(stored: stored, expected: genesisHash) }
            return
        }
        guard !options.readOnly else { throw ChainError.corrupt("no genesis block in a store opened read-only") }
        try environment.write { txn in
            try LMDBTreeStore.write(genesis.state, in: txn)
            try Self.put(genesis.block, receipts: [], in: txn)
            try txn.put(Meta.self, Meta.genesis, genesis.block.header.hash.bytes)
        }
    }

    /// Opens the store in `datadir` for the rollup of `genesis` it was created for (found by its
    /// stored genesis hash), read-only unless `readOnly` is false.
    public static func open(datadir: String, genesis: Genesis, readOnly: Bool = true) throws -> ChainStore {
        var options = Environment.Options()
        options.readOnly = readOnly
        return try open(environment: Environment(path: datadir, options: options), genesis: genesis)
    }

    /// `open` on an open environment: the store knows every rollup of `genesis` (its network).
    public static func open(environment: Environment, genesis: Genesis) throws -> ChainStore {
        let datadir = environment.path
        let stored: Hash? = try environment.read { txn in
            try txn.get(Meta.self, Meta.genesis).flatMap { Hash(bytes: $0) }
        }
        guard let stored else {
            throw ChainError.corrupt("\(datadir) holds no rollup chain (no genesis hash in its meta table)")
        }
        for rollup in genesis.rollups where try rollup.genesisBlock().block.header.hash == stored {
            return try ChainStore(environment: environment, rollup: rollup, network: Network(genesis))
        }
        throw ChainError.corrupt(
            "\(datadir) belongs to genesis block \(stored), which no rollup of this genesis file has")
    }

    static func put(_ block: Block, receipts: [Receipt], in txn: WriteTransaction) throws {
        let height = block.header.height
        try txn.put(Headers.self, height, block.header, append: true)
        try txn.put(BlockHashes.self, block.header.hash, height)
        try txn.put(Bodies.self, height, BlockBody(block.transactions), append: true)
        try txn.put(Receipts.self, height, BlockReceipts(receipts), append: true)
        for (i, tx) in block.transactions.enumerated() {
            try txn.put(TransactionIndex.self, tx.id, TransactionLocation(height: height, index: UInt32(i)))
        }
        try txn.put(Meta.self, Meta.head, height.canonicalBytes)
    }

    // MARK: Reads

    /// The newest committed header.
    public func head() throws -> BlockHeader { try environment.read { try Self.head(in: $0) } }

    static func head(in txn: ReadTransaction) throws -> BlockHeader {
        guard let raw = try txn.get(Meta.self, Meta.head) else { throw ChainError.corrupt("no head pointer") }
        let height = try UInt64(canonicalBytes: raw)
        guard let header = try txn.get(Headers.self, height) else {
            throw ChainError.corrupt("head \(height) has no header")
        }
        return header
    }

    /// The header at `height`, or nil.
    public func header(at height: UInt64) throws -> BlockHeader? {
        try environment.read { try $0.get(Headers.self, height) }
    }

    /// The height of the block with `hash`, or nil.
    public func height(ofBlock hash: Hash) throws -> UInt64? {
        try environment.read { try $0.get(BlockHashes.self, hash) }
    }

    /// The block at `height`, or nil.
    public func block(at height: UInt64) throws -> Block? {
        try environment.read { txn in
            guard let header = try txn.get(Headers.self, height), let body = try txn.get(Bodies.self, height) else {
                return nil
            }
            return Block(header: header, transactions: body.transactions)
        }
    }

    /// The receipts of the block at `height`, or nil.
    public func receipts(at height: UInt64) throws -> [Receipt]? {
        try environment.read { try $0.get(Receipts.self, height)?.receipts }
    }

    /// Where transaction `id` was included, or nil.
    public func location(ofTransaction id: Hash) throws -> TransactionLocation? {
        try environment.read { try $0.get(TransactionIndex.self, id) }
    }

    /// An included transaction with its block header, position and receipt, read from one snapshot;
    /// nil when `id` is not in the chain.
    public func inclusion(of id: Hash) throws -> Inclusion? {
        try environment.read { txn in
            guard let location = try txn.get(TransactionIndex.self, id),
                let header = try txn.get(Headers.self, location.height),
                let body = try txn.get(Bodies.self, location.height),
                let receipts = try txn.get(Receipts.self, location.height),
                Int(location.index) < body.transactions.count, Int(location.index) < receipts.receipts.count
            else { return nil }
            let i = Int(location.index)
            return Inclusion(
                header: header, location: location, transaction: body.transactions[i], receipt: receipts.receipts[i])
        }
    }

    /// What the chain holds about one included transaction.
    public struct Inclusion: Sendable {
        public var header: BlockHeader
        public var location: TransactionLocation
        public var transaction: SignedTransaction
        public var receipt: Receipt
    }

    /// What this rollup's blocks execute under (docs/protocol.md, "The block rule").
    public var rules: ChainRules { ChainRules(rollup, network: network) }

    /// The L1 facts recorded by earlier relays (what `verify` and witnesses re-execute with).
    static func recordedFacts(in txn: ReadTransaction) throws -> L1Facts {
        var facts: [RollupIndex: L1OutputFact] = [:]
        try txn.forEach(L1FactsTable.self) { key, fact in
            facts[key] = fact
            return true
        }
        return L1Facts(facts)
    }

    /// Indexes the messages a block sent: the outbox, its perfect subtrees, ids -> nonces.
    static func index(
        _ messages: [Message], height: UInt64, frontierBefore: OutboxFrontier, in txn: WriteTransaction
    ) throws {
        var frontier = frontierBefore
        if !messages.isEmpty { try txn.put(OutboxCounts.self, height, frontierBefore.count + UInt64(messages.count)) }
        for m in messages {
            try txn.put(Outbox.self, m.nonce, m, append: true)
            // TransactionLocation's fields: the message's nonce and its block's height.
            try txn.put(MessageIndex.self, m.id, TransactionLocation(height: m.nonce, index: 0))
            try txn.put(MessageHeights.self, m.nonce, height)
            for node in frontier.append(m.id) {
                try txn.put(OutboxNodes.self, OutboxNodes.key(level: node.level, index: node.index), node.hash)
            }
        }
    }

    /// The receipts root of a header (`BlockRule.receiptsRoot`).
    public static func receiptsRoot(_ receipts: [Receipt]) -> Hash { BlockRule.receiptsRoot(receipts) }

    /// Runs `body` with a consistent view of the state after the block at `height` (default: the
    /// head): values, the header and proofs all from one read transaction.
    public func withState<R>(at height: UInt64? = nil, _ body: (StateView) throws -> R) throws -> R {
        try environment.read { txn in
            let at = try height ?? Self.head(in: txn).height
            guard let header = try txn.get(Headers.self, at) else {
                throw ChainError.corrupt("no header at height \(at)")
            }
            let tree = StateTree(LMDBTreeReader(txn))
            return try body(
                StateView(
                    header: header, tree: tree, state: StateOverlay(base: TreeStateReader(tree: tree, version: at))))
        }
    }

    // MARK: Block production

    /// Applies the block rule (`BlockRule`) to `candidates` after the head — leaving out those
    /// invalid when their turn comes, flooring the L1 origin and timestamp at the head's — and
    /// commits the resulting block — header, body, receipts, index, state and head — in one write
    /// transaction. The sequencer seals with it (signatures already checked by the mempool, in
    /// parallel), derivation and replay import posted blocks with it (`checkSignatures`, and the
    /// L1 height of the blob that carried them as `l1Limit`).
    public func commitBlock(
        candidates: [SignedTransaction], timestamp: UInt64, l1Origin: L1Origin = .none, checkSignatures: Bool = false,
        l1: any L1View = NoL1(), l1Limit: UInt64? = nil,
        alsoWrite: ((Block, WriteTransaction) throws -> Void)? = nil
    ) throws -> CommittedBlock {
        try environment.write { txn in
            let parent = try Self.head(in: txn)
            let height = parent.height + 1
            let tree = StateTree(LMDBTreeReader(txn))
            let state = StateOverlay(base: TreeStateReader(tree: tree, version: parent.height))
            let recorder = RecordingL1View(l1)
            let frontierBefore = try Messaging.frontier(state)
            var rules = self.rules
            if lies.tells(.oversizeBlock, at: height) { rules.bytes = nil }
            let ruled = try BlockRule.apply(
                candidates, origin: l1Origin, timestamp: timestamp, parent: parent, rules: rules, l1: recorder,
                blobL1Height: l1Limit, state: state, checkSignatures: checkSignatures)
            let batch = try tree.update(
                base: parent.height, version: height, updates: ruled.writes,
                parallelReaders: LMDBTreeReaderProvider(environment))
            let header = lies.falsify(ruled.header(parent: parent, stateRoot: batch.rootHash), forged: forgedMessage)
            let block = Block(header: header, transactions: ruled.included)
            try LMDBTreeStore.write(batch, in: txn)
            try Self.put(block, receipts: ruled.receipts, in: txn)
            try Self.index(ruled.emitted, height: height, frontierBefore: frontierBefore, in: txn)
            for (key, fact) in recorder.seen { try txn.put(L1FactsTable.self, key, fact) }
            try alsoWrite?(block, txn)
            return CommittedBlock(
                block: block, receipts: ruled.receipts, dropped: ruled.dropped, deferred: ruled.deferred)
        }
    }

    /// Testing knob (`--fault`, `Lies`): the header lies this store's sequencer tells — its headers
    /// claim them (the stored tree stays right), so its batches and outputs carry false claims.
    public var lies: Lies {
        get { liesBox.withLock { $0 } }
        set { liesBox.withLock { $0 = newValue } }
    }
    private let liesBox = Mutex<Lies>(Lies())

    /// The message an `outbox-root` lie claims (to the first other rollup of the network).
    public var forgedMessage: Message? {
        guard let other = network.members.first(where: { $0.id != rollup.id }) else { return nil }
        return Lies.forgedMessage(source: rollup.id, nativeAsset: rollup.nativeAsset, destination: other.id)
    }

    /// The false root a sequencer lying about state roots claims instead of `root`.
    public static func faultyRoot(_ root: Hash) -> Hash { Lies.falseHash("state-root", root) }

    // MARK: Verification

    /// Verifies the store with the one verifier (`ChainVerifier`: headers and indices, the state
    /// tree rehashed, every block re-executed with its roots compared, every batch decoded).
    /// Returns the number of blocks re-executed; throws `verificationFailed` at the first block that
    /// does not re-execute to what is stored, `corrupt` for any other damage.
    @discardableResult
    public func verify() throws -> UInt64 {
        let report = try ChainVerifier(environment: environment, rollup: rollup, network: network)
            .verify(head: try head().height)
        guard let problem = report.problem else { return report.blocks }
        if let block = problem.block { throw ChainError.verificationFailed(height: block.height, what: block.what) }
        throw ChainError.corrupt(problem.message)
    }
}

// MARK: Outbox

extension ChainStore {
    /// A sent message: its nonce and the height of the block that sent it.
    public struct SentMessage: Sendable {
        public var message: Message
        public var height: UInt64
    }

    /// The message with `id` in this rollup's outbox.
    public func sentMessage(_ id: Hash) throws -> SentMessage? {
        try environment.read { txn in
            guard let location = try txn.get(MessageIndex.self, id) else { return nil }
            return try Self.sent(nonce: location.height, in: txn)
        }
    }

    static func sent(nonce: UInt64, in txn: ReadTransaction) throws -> SentMessage? {
        guard let m = try txn.get(Outbox.self, nonce), let h = try txn.get(MessageHeights.self, nonce) else {
            return nil
        }
        return SentMessage(message: m, height: h)
    }

    /// The outbox size after the block at `height`.
    public func outboxCount(at height: UInt64) throws -> UInt64 {
        try environment.read { try Self.outboxCount(at: height, in: $0) }
    }

    static func outboxCount(at height: UInt64, in txn: ReadTransaction) throws -> UInt64 {
        var count: UInt64 = 0
        try txn.forEach(OutboxCounts.self, from: height, reverse: true) { _, c in
            count = c
            return false
        }
        return count
    }

    /// Messages sent to `destination` with a nonce from `fromNonce`, in blocks up to `height`, each
    /// with its proof against the outbox root after block `height`.
    public func messages(
        to destination: RollupID?, fromNonce: UInt64, throughHeight height: UInt64, limit: Int
    ) throws -> (treeSize: UInt64, messages: [(SentMessage, OutboxProof)]) {
        try environment.read { txn in
            let size = try Self.outboxCount(at: height, in: txn)
            var out: [(SentMessage, OutboxProof)] = []
            var nonce = fromNonce
            while nonce < size, out.count < limit {
                guard let sent = try Self.sent(nonce: nonce, in: txn) else { break }
                if destination == nil || sent.message.destination == destination {
                    out.append((sent, try Self.proof(nonce: nonce, treeSize: size, in: txn)))
                }
                nonce += 1
            }
            return (size, out)
        }
    }

    /// The inclusion proof of entry `nonce` in the outbox of `treeSize` entries: O(log² n) reads of
    /// stored subtree roots.
    public func outboxProof(nonce: UInt64, treeSize: UInt64) throws -> OutboxProof {
        try environment.read { try Self.proof(nonce: nonce, treeSize: treeSize, in: $0) }
    }

    static func proof(nonce: UInt64, treeSize: UInt64, in txn: ReadTransaction) throws -> OutboxProof {
        precondition(nonce < treeSize, "no entry \(nonce) in an outbox of \(treeSize)")
        func node(_ start: UInt64, _ size: UInt64) throws -> Hash {
            if size & (size - 1) == 0, start % size == 0 {
                let level = size.trailingZeroBitCount
                guard let h = try txn.get(OutboxNodes.self, OutboxNodes.key(level: level, index: start / size)) else {
                    throw ChainError.corrupt("outbox subtree \(level)/\(start / size) missing")
                }
                return h
            }
            var k: UInt64 = 1
            while k * 2 < size { k *= 2 }
            return Hash.sha256(tag: 0x01, try node(start, k), try node(start + k, size - k))
        }
        func path(_ m: UInt64, _ start: UInt64, _ size: UInt64) throws -> [Hash] {
            if size <= 1 { return [] }
            var k: UInt64 = 1
            while k * 2 < size { k *= 2 }
            if m < k { return try path(m, start, k) + [try node(start + k, size - k)] }
            return try path(m - k, start + k, size - k) + [try node(start, k)]
        }
        return OutboxProof(index: nonce, treeSize: treeSize, path: try path(nonce, 0, treeSize))
    }

    /// What became of message `id` here (it was relayed), from the head state.
    public func relayRecord(_ id: Hash) throws -> RelayRecord? {
        try withState { view in try view.state.get(StateKey.consumed(id)).map { try RelayRecord(canonicalBytes: $0) } }
    }
}

// MARK: Fraud-proof witnesses

extension ChainStore {
    /// The witness a challenge needs to re-execute `blocks` (the posted blocks at heights
    /// `after + 1`, `after + 2`, …) statelessly: a multiproof, against the state after block
    /// `after`, of every key those blocks read or write.
    public func witness(replaying blocks: [Block], after: UInt64, l1Limits: [UInt64?] = []) throws -> (
        witness: Witness, keys: Int
    ) {
        try environment.read { txn in
            let tree = StateTree(LMDBTreeReader(txn))
            let facts = try Self.recordedFacts(in: txn)
            var keys = Set<Hash>()
            for (i, block) in blocks.enumerated() {
                let height = after + 1 + UInt64(i)
                // Each block reads the stored state before it (the canonical chain's) and follows the
                // stored header before it.
                guard let parent = try txn.get(Headers.self, height - 1) else {
                    throw ChainError.corrupt("no header at height \(height - 1)")
                }
                let state = StateOverlay(base: TreeStateReader(tree: tree, version: height - 1))
                let ruled = try BlockRule.apply(
                    block.transactions, origin: block.header.l1Origin, timestamp: block.header.timestamp,
                    parent: parent, rules: rules, l1: facts, blobL1Height: i < l1Limits.count ? l1Limits[i] : nil,
                    state: state, checkSignatures: true)
                keys.formUnion(ruled.touchedKeys)
            }
            let sorted = keys.sorted()
            return (try tree.witness(for: sorted, at: after), sorted.count)
        }
    }
}

/// Passes lookups through and remembers what they answered, so a block's L1 facts are stored
/// with it.
final class RecordingL1View: L1View, @unchecked Sendable {
    let base: any L1View
    private(set) var seen: [(RollupIndex, L1OutputFact)] = []

    init(_ base: any L1View) { self.base = base }

    func output(rollup: RollupID, index: UInt64) -> L1OutputFact? {
        let fact = base.output(rollup: rollup, index: index)
        if let fact { seen.append((RollupIndex(rollup, index), fact)) }
        return fact
    }
}
