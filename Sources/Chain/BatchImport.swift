import Primitives
import Settlement
import StateMachine
import Storage

/// THE loop that imports posted batches into a rollup store (docs/protocol.md, "Derivation"):
/// the deriver runs it over the L1's blobs, `tributary replay` over the L1's blobs or another
/// store's batch records. Every posted block above the head is executed by the block rule with
/// signatures checked, at `min(its L1 origin, its blob's L1 height)`; a batch that does not
/// decode derives as empty blocks; blocks the store holds already must be the posted ones. What
/// happens when a posted header differs from re-execution is the caller's `MismatchPolicy`.
public struct BatchImport {
    /// What to do with a posted block whose header differs from the one the block rule gives.
    public enum MismatchPolicy: Sendable {
        /// Commit the canonical block and keep the posted one in `claims` for the challenger
        /// (derivation: the canonical chain goes on, the lie is disputed).
        case keepClaim
        /// Commit nothing of it and stop (replay: report the first block that does not re-execute).
        case stop
    }

    /// Why an import stopped before the end of the batch.
    public enum Stop: Sendable, Equatable {
        /// The batch starts after the block that would come next: the chain cannot go on.
        case gap(String, nextHeight: UInt64)
        /// A block the store holds differs from the one the batch carries at that height.
        case diverged(String, height: UInt64)
        /// Under `.stop`: the first posted block that does not re-execute to its header.
        case mismatch(String, height: UInt64)
    }

    /// What one batch did to the store.
    public struct Outcome: Sendable {
        public var blocks = 0
        public var transactions = 0
        /// Set when the frame did not decode (the batch derived as empty blocks): the reason.
        public var undecodable: String?
        /// Imported blocks whose posted header differs from re-execution (under `.keepClaim`).
        public var faults: [(height: UInt64, differences: [String])] = []
        public var stop: Stop?
    }

    public let store: ChainStore
    public let policy: MismatchPolicy
    /// Where the batches come from, as messages name it ("the L1", "the source store").
    public let source: String

    public init(store: ChainStore, policy: MismatchPolicy, source: String) {
        self.store = store
        self.policy = policy
        self.source = source
    }

    /// The next batch sequence number the store has not recorded.
    public func nextSeq() throws -> UInt64 {
        try store.environment.read { txn in
            var next: UInt64 = 0
            try txn.forEach(Batches.self, reverse: true) { seq, _ in
                next = seq + 1
                return false
            }
            return next
        }
    }

    /// The posted header at `height`: the kept claim when it differs, else the store's own.
    public func postedHeader(at height: UInt64) throws -> BlockHeader? {
        try store.environment.read { txn in
            if let claim = try txn.get(Claims.self, height) { return claim.header }
            return try txn.get(Headers.self, height)
        }
    }

    /// Imports `batch` (the next one the store has not recorded), committing blocks up to
    /// `target` at most. `fact` answers what the L1 says of an output a relay among the blocks to
    /// import refers to (each asked once). The batch is recorded in `batches` with its last block
    /// (or at once, when the store held every block already).
    public func run(
        _ batch: PostedBatch, through target: UInt64? = nil,
        fact: (RollupIndex) async throws -> L1OutputFact?
    ) async throws -> Outcome {
        var outcome = Outcome()
        var head = try store.head().height
        let h = batch.header
        let l1Limit = batch.l1Height == 0 ? nil : batch.l1Height
        func beyondTarget(_ height: UInt64) -> Bool { target.map { height > $0 } ?? false }
        let blocks: [Block]
        do { blocks = try BatchCodec.decode(batch.frame, header: h) } catch {
            // Not in DA: its heights derive as empty blocks (docs/protocol.md, "Batches").
            outcome.undecodable = "\(error)"
            guard h.firstHeight <= head + 1 else {
                outcome.stop = .gap(
                    "batch \(h.seq) starts at block \(h.firstHeight), after the store's head \(head)", nextHeight: head + 1)
                return outcome
            }
            while head < h.lastHeight, !beyondTarget(head + 1) {
                let parent = try store.head()
                let isLast = parent.height + 1 == h.lastHeight
                _ = try store.commitBlock(
                    candidates: [], timestamp: parent.timestamp, l1Origin: parent.l1Origin, checkSignatures: true,
                    l1Limit: l1Limit
                ) { _, txn in
                    if isLast { try txn.put(Batches.self, h.seq, batch) }
                }
                head += 1
                outcome.blocks += 1
            }
            if head >= h.lastHeight { try recordIfNew(batch) }
            return outcome
        }
        // Blocks the store holds already must be the ones the batch carries: a store restored from
        // another chain's snapshot, or diverged otherwise, stops here instead of building on.
        for block in blocks where block.header.height <= head {
            let held = try postedHeader(at: block.header.height)
            guard held == block.header else {
                outcome.stop = .diverged(
                    "the store diverges from \(source) at block \(block.header.height): it holds \(held.map { "\($0.hash)" } ?? "nothing"), \(source)'s batch \(h.seq) carries \(block.header.hash)",
                    height: block.header.height)
                return outcome
            }
        }
        let fresh = blocks.filter { $0.header.height > head && !beyondTarget($0.header.height) }
        let view = try await Self.facts(relayedIn: fresh, fact)
        var importedLast = false
        for block in fresh {
            guard block.header.height == head + 1 else {
                outcome.stop = .gap(
                    "batch \(h.seq) starts at block \(block.header.height), after the store's head \(head)",
                    nextHeight: head + 1)
                return outcome
            }
            let isLast = block.header.height == h.lastHeight
            var differences: [String] = []
            do {
                _ = try store.commitBlock(
                    candidates: block.transactions, timestamp: block.header.timestamp,
                    l1Origin: block.header.l1Origin, checkSignatures: true, l1: view, l1Limit: l1Limit
                ) { canonical, txn in
                    differences = BlockRule.differences(claimed: block.header, canonical: canonical.header)
                    if policy == .stop, !differences.isEmpty || canonical.header != block.header {
                        let what =
                            differences.isEmpty
                            ? "header \(block.header.hash), re-executed \(canonical.header.hash)"
                            : differences.joined(separator: "; ")
                        throw Mismatch(
                            message:
                                "block \(block.header.height) (batch \(h.seq)) does not re-execute to its posted header: \(what)"
                        )
                    }
                    // Also a posted block whose header is right but whose body carried transactions the
                    // rule left out: proofs re-execute the posted body.
                    if canonical != block { try txn.put(Claims.self, block.header.height, block) }
                    if isLast { try txn.put(Batches.self, h.seq, batch) }
                }
            } catch let mismatch as Mismatch {
                outcome.stop = .mismatch(mismatch.message, height: block.header.height)
                return outcome
            }
            if isLast { importedLast = true }
            if !differences.isEmpty { outcome.faults.append((block.header.height, differences)) }
            head += 1
            outcome.blocks += 1
            outcome.transactions += block.transactions.count
        }
        // A batch whose blocks the store already had (its own, a re-run, a snapshot's straddling
        // batch): record it. (When its last block was imported just now, that commit recorded it.)
        if !importedLast, head >= h.lastHeight { try recordIfNew(batch) }
        return outcome
    }

    /// The L1 facts of the outputs the relays among `blocks` refer to.
    static func facts(relayedIn blocks: [Block], _ fact: (RollupIndex) async throws -> L1OutputFact?) async throws
        -> L1Facts
    {
        var facts: [RollupIndex: L1OutputFact] = [:]
        var asked: Set<RollupIndex> = []
        for block in blocks {
            for tx in block.transactions {
                guard case .relayMessage(let message, _, let index) = tx.transaction.call else { continue }
                let key = RollupIndex(message.source, index)
                guard asked.insert(key).inserted else { continue }
                facts[key] = try await fact(key)
            }
        }
        return L1Facts(facts)
    }

    /// Records a batch unless the same record is there already.
    func recordIfNew(_ record: PostedBatch) throws {
        try store.environment.write { txn in
            if let existing = try txn.get(Batches.self, record.header.seq), existing.commitment == record.commitment,
                existing.l1Height == record.l1Height
            {
                return
            }
            try txn.put(Batches.self, record.header.seq, record)
        }
    }

    /// A posted block that does not re-execute: aborts its write transaction.
    struct Mismatch: Error {
        var message: String
    }
}
