import Chain
import DequeModule
import HeapModule
import Primitives
import StateMachine
import Synchronization

/// Why the mempool refused a transaction. Each has its own JSON-RPC error code (docs/rpc.md).
public enum MempoolError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(size: Int, limit: Int)
    case wrongRollup(expected: RollupID, actual: RollupID)
    case badSignature
    case nonceTooLow(next: UInt64, actual: UInt64)
    case nonceTooHigh(next: UInt64, actual: UInt64, limit: UInt64)
    case cannotPayFee(fee: UInt64, balance: UInt64)
    case alreadyKnown
    case nonceTaken(nonce: UInt64)
    case senderFull(limit: Int)
    case full(limit: Int)
    /// The fee is below the mempool's price: `perByte` for each of the transaction's `size` bytes.
    case feeTooLow(fee: UInt64, minimum: UInt64, size: Int, perByte: UInt64)
    /// The sender already has `limit` transactions waiting behind a nonce gap.
    case tooManyNotReady(limit: Int)

    public var description: String {
        switch self {
        case .tooLarge(let size, let limit): return "transaction of \(size) bytes exceeds the limit of \(limit)"
        case .wrongRollup(let expected, let actual):
            return "transaction is for rollup \(actual), this node runs rollup \(expected)"
        case .badSignature: return "signature does not verify against the sender's key"
        case .nonceTooLow(let next, let actual):
            return "nonce \(actual) was already used; the sender's next nonce is \(next)"
        case .nonceTooHigh(let next, let actual, let limit):
            return "nonce \(actual) is more than \(limit) ahead of the sender's next nonce \(next)"
        case .cannotPayFee(let fee, let balance): return "fee \(fee) exceeds the sender's native balance \(balance)"
        case .alreadyKnown: return "transaction is already in the mempool"
        case .nonceTaken(let nonce): return "another transaction of this sender with nonce \(nonce) is already pending"
        case .senderFull(let limit): return "the sender already has \(limit) pending transactions"
        case .full(let limit): return "the mempool is full (\(limit) transactions); retry later"
        case .feeTooLow(let fee, let minimum, let size, let perByte):
            return
                "fee \(fee) is below the mempool's minimum of \(minimum) (\(perByte) per byte for \(size) bytes); pay at least \(minimum)"
        case .tooManyNotReady(let limit):
            return
                "the sender already has \(limit) transactions waiting behind a nonce gap; send the missing nonces first"
        }
    }
}

/// Pending transactions: admitted after every check that does not depend on block order, kept per
/// sender in nonce order, handed to the sequencer fairly by arrival.
///
/// A transaction is **ready** when its nonce continues its sender's unbroken run from the committed
/// nonce, **not ready** when it waits behind a nonce gap. Not-ready transactions cost the sequencer
/// nothing and may never become ready, so they are bounded: at most `maxNotReadyPerSender` per
/// sender, each expires after `notReadyExpiryBlocks` blocks, and a full pool evicts the oldest of
/// them to admit a ready transaction.
public final class Mempool: Sendable {
    public struct Limits: Sendable {
        public var maxTransactionBytes = 8192
        public var maxPerSender = 1024
        public var maxTotal = 100_000
        /// The admission price: the least fee per byte of the signed transaction's encoding (the
        /// genesis's `mempool.minFeePerByte`). Policy only: a block may hold any fee.
        public var minFeePerByte: UInt64 = 1
        /// The most not-ready (gapped) transactions one sender may hold: low against squatting, but
        /// above what a client pipelining its requests leaves out of order (32 in flight in the tests).
        public var maxNotReadyPerSender = 64
        /// A transaction not ready this many blocks after its admission is dropped.
        public var notReadyExpiryBlocks: UInt64 = 120

        public init() {}
    }

    /// What the mempool says about a transaction id.
    public enum Status: Equatable, Sendable {
        case pending
        case dropped(String)
        case unknown
    }

    struct Entry {
        var transaction: SignedTransaction
        var arrival: UInt64
        /// `State.blocks` when it was admitted.
        var block: UInt64
    }

    struct Sender {
        var entries: [UInt64: Entry] = [:]
        /// The account nonce as of the last committed block this mempool saw.
        var committedNonce: UInt64

        /// The nonce after the unbroken run of pending nonces from the committed one: entries below it
        /// are ready, entries above it wait behind a gap.
        var readyEnd: UInt64 {
            var next = committedNonce
            while entries[next] != nil { next += 1 }
            return next
        }

        /// How many entries wait behind a gap.
        var notReadyCount: Int { entries.count - Int(readyEnd - committedNonce) }
    }

    struct State {
        var senders: [Address: Sender] = [:]
        var ids: [Hash: Address] = [:]
        var count = 0
        var arrivals: UInt64 = 0
        /// Committed blocks seen.
        var blocks: UInt64 = 0
        /// Candidates for eviction, oldest first: transactions that were not ready when admitted or at
        /// the last block. An id here may since have become ready or left; eviction skips those.
        var notReady: Deque<(id: Hash, address: Address, nonce: UInt64)> = []
        /// Recently dropped transactions and why, oldest evicted first.
        var dropped: [Hash: String] = [:]
        var droppedOrder: Deque<Hash> = []
    }

    public let rollup: RollupID
    public let limits: Limits
    private let state = Mutex(State())
    static let droppedMemory = 10_000

    public init(rollup: RollupID, limits: Limits = Limits()) {
        self.rollup = rollup
        self.limits = limits
    }

    /// The number of pending transactions.
    public var count: Int { state.withLock { $0.count } }

    /// Admits `tx`. `encodedSize` is its wire size; `account` reads the sender's committed nonce and
    /// native balance from the committed state. The signature is verified first, outside the lock, so
    /// concurrent callers verify in parallel; `account` is read under the lock. Read before it, a block
    /// committed in between (and its `blockCommitted`, which forgets a sender with nothing pending)
    /// could leave the sender's entry with a stale committed nonce — and its transactions never ready.
    /// Throws `MempoolError` for a refusal and whatever `account` throws.
    public func add(
        _ tx: SignedTransaction, encodedSize: Int, account: () throws -> (nonce: UInt64, nativeBalance: UInt64)
    ) throws {
        guard encodedSize <= limits.maxTransactionBytes else {
            throw MempoolError.tooLarge(size: encodedSize, limit: limits.maxTransactionBytes)
        }
        let t = tx.transaction
        guard t.rollup == rollup else { throw MempoolError.wrongRollup(expected: rollup, actual: t.rollup) }
        let minimumFee = Self.minimumFee(perByte: limits.minFeePerByte, size: encodedSize)
        guard t.fee >= minimumFee else {
            throw MempoolError.feeTooLow(
                fee: t.fee, minimum: minimumFee, size: encodedSize, perByte: limits.minFeePerByte)
        }
        guard tx.hasValidSignature else { throw MempoolError.badSignature }
        let id = tx.id
        let sender = t.senderAddress
        let limits = self.limits
        var readFailure: (any Error)?
        try state.withLock { (s: inout State) throws(MempoolError) in
            let committed: (nonce: UInt64, nativeBalance: UInt64)
            do { committed = try account() } catch {
                readFailure = error
                return
            }
            guard t.nonce >= committed.nonce else { throw .nonceTooLow(next: committed.nonce, actual: t.nonce) }
            guard t.nonce - committed.nonce < UInt64(limits.maxPerSender) else {
                throw .nonceTooHigh(next: committed.nonce, actual: t.nonce, limit: UInt64(limits.maxPerSender))
            }
            guard committed.nativeBalance >= t.fee else {
                throw .cannotPayFee(fee: t.fee, balance: committed.nativeBalance)
            }
            guard s.ids[id] == nil else { throw .alreadyKnown }
            var entry = s.senders[sender] ?? Sender(committedNonce: committed.nonce)
            entry.committedNonce = max(entry.committedNonce, committed.nonce)
            guard t.nonce >= entry.committedNonce else {
                throw .nonceTooLow(next: entry.committedNonce, actual: t.nonce)
            }
            guard entry.entries[t.nonce] == nil else { throw .nonceTaken(nonce: t.nonce) }
            guard entry.entries.count < limits.maxPerSender else { throw .senderFull(limit: limits.maxPerSender) }
            let ready = t.nonce == entry.readyEnd
            if !ready, entry.notReadyCount >= limits.maxNotReadyPerSender {
                throw .tooManyNotReady(limit: limits.maxNotReadyPerSender)
            }
            if s.count >= limits.maxTotal {
                // A ready transaction is worth more than one that may never be: make room by the oldest
                // not-ready one. A not-ready transaction never evicts anything.
                guard ready, Self.evictOldestNotReady(from: &s) else { throw .full(limit: limits.maxTotal) }
                // The eviction may have been the sender's own (it stays ready: its nonce continues the run).
                entry.entries = s.senders[sender]?.entries ?? [:]
            }
            s.arrivals += 1
            entry.entries[t.nonce] = Entry(transaction: tx, arrival: s.arrivals, block: s.blocks)
            if !ready { s.notReady.append((id, sender, t.nonce)) }
            s.senders[sender] = entry
            s.ids[id] = sender
            s.count += 1
            s.dropped[id] = nil
        }
        if let readFailure { throw readFailure }
    }

    /// The least fee of a transaction of `size` bytes at `perByte` (saturating).
    public static func minimumFee(perByte: UInt64, size: Int) -> UInt64 {
        let (fee, overflow) = perByte.multipliedReportingOverflow(by: UInt64(max(0, size)))
        return overflow ? UInt64.max : fee
    }

    /// Drops the oldest transaction that is still not ready; false when there is none.
    private static func evictOldestNotReady(from s: inout State) -> Bool {
        while let candidate = s.notReady.popFirst() {
            guard s.ids[candidate.id] != nil, let sender = s.senders[candidate.address],
                let entry = sender.entries[candidate.nonce], entry.transaction.id == candidate.id,
                candidate.nonce > sender.readyEnd
            else { continue }
            drop(
                entry.transaction,
                reason: "evicted from the full mempool: nonce \(candidate.nonce) was waiting for nonce \(sender.readyEnd)",
                from: &s)
            return true
        }
        return false
    }

    /// Drops not-ready transactions older than the expiry and rebuilds the eviction queue from what is
    /// not ready now (a drop can leave later nonces behind a new gap). One pass over the pool per block.
    private static func expireNotReady(in s: inout State, limits: Limits) {
        var expired: [(SignedTransaction, String)] = []
        var waiting: [(arrival: UInt64, id: Hash, address: Address, nonce: UInt64)] = []
        for (address, sender) in s.senders {
            let end = sender.readyEnd
            guard sender.entries.count > Int(end - sender.committedNonce) else { continue }
            for (nonce, entry) in sender.entries where nonce > end {
                if s.blocks - entry.block >= limits.notReadyExpiryBlocks {
                    expired.append(
                        (
                            entry.transaction,
                            "not ready for \(limits.notReadyExpiryBlocks) blocks: nonce \(nonce) was waiting for nonce \(end)"
                        ))
                } else {
                    waiting.append((entry.arrival, entry.transaction.id, address, nonce))
                }
            }
        }
        for (tx, reason) in expired { drop(tx, reason: reason, from: &s) }
        s.notReady = Deque(waiting.sorted { $0.arrival < $1.arrival }.map { ($0.id, $0.address, $0.nonce) })
    }

    /// The status of transaction `id` as far as the mempool knows.
    public func status(of id: Hash) -> Status {
        state.withLock { s in
            if s.ids[id] != nil { return .pending }
            if let reason = s.dropped[id] { return .dropped(reason) }
            return .unknown
        }
    }

    /// The nonce after the sender's last pending transaction in an unbroken run from its committed
    /// nonce, or nil when it has none pending.
    public func pendingNonce(of address: Address) -> UInt64? {
        state.withLock { s in
            guard let sender = s.senders[address], !sender.entries.isEmpty else { return nil }
            var next = sender.committedNonce
            while sender.entries[next] != nil { next += 1 }
            return next
        }
    }

    /// Up to `limit` transactions ready to execute now: each sender's unbroken run of nonces from
    /// its committed nonce, interleaved across senders by arrival.
    public func candidates(limit: Int) -> [SignedTransaction] {
        state.withLock { s in
            struct Head: Comparable {
                var arrival: UInt64
                var sender: Address
                var nonce: UInt64
                static func < (a: Head, b: Head) -> Bool { a.arrival < b.arrival }
            }
            var heap = Heap<Head>()
            for (address, sender) in s.senders {
                if let first = sender.entries[sender.committedNonce] {
                    heap.insert(Head(arrival: first.arrival, sender: address, nonce: sender.committedNonce))
                }
            }
            var out: [SignedTransaction] = []
            while out.count < limit, let head = heap.popMin() {
                let sender = s.senders[head.sender]!
                out.append(sender.entries[head.nonce]!.transaction)
                if let next = sender.entries[head.nonce + 1] {
                    heap.insert(Head(arrival: next.arrival, sender: head.sender, nonce: head.nonce + 1))
                }
            }
            return out
        }
    }

    /// Forgets what a committed block included or dropped, advances its senders' committed nonces,
    /// and drops pending transactions whose nonce was used by another.
    public func blockCommitted(_ committed: CommittedBlock) {
        let limits = self.limits
        state.withLock { s in
            var senders: Set<Address> = []
            for tx in committed.block.transactions {
                let address = tx.transaction.senderAddress
                Self.remove(tx, from: &s)
                s.senders[address, default: Sender(committedNonce: 0)].committedNonce = max(
                    s.senders[address]?.committedNonce ?? 0, tx.transaction.nonce + 1)
                senders.insert(address)
            }
            for address in senders {
                guard let sender = s.senders[address] else { continue }
                for (nonce, entry) in sender.entries where nonce < sender.committedNonce {
                    Self.drop(entry.transaction, reason: "nonce \(nonce) was used by another transaction", from: &s)
                }
                if s.senders[address]?.entries.isEmpty == true { s.senders[address] = nil }
            }
            for (tx, reason) in committed.dropped {
                Self.drop(tx, reason: reason.description, from: &s)
            }
            s.blocks += 1
            Self.expireNotReady(in: &s, limits: limits)
        }
    }

    /// Forgets `tx` if it is pending; its sender and nonce locate it without a scan.
    private static func remove(_ tx: SignedTransaction, from s: inout State) {
        let id = tx.id
        guard let address = s.ids.removeValue(forKey: id), var sender = s.senders[address] else { return }
        let nonce = tx.transaction.nonce
        if sender.entries[nonce]?.transaction.id == id {
            sender.entries[nonce] = nil
            s.count -= 1
        }
        s.senders[address] = sender.entries.isEmpty ? nil : sender
    }

    private static func drop(_ tx: SignedTransaction, reason: String, from s: inout State) {
        remove(tx, from: &s)
        let id = tx.id
        s.dropped[id] = reason
        s.droppedOrder.append(id)
        while s.droppedOrder.count > droppedMemory {
            s.dropped[s.droppedOrder.removeFirst()] = nil
        }
    }
}
