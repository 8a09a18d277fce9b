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
        }
    }
}

/// Pending transactions: admitted after every check that does not depend on block order, kept per
/// sender in nonce order, handed to the sequencer fairly by arrival.
public final class Mempool: Sendable {
    public struct Limits: Sendable {
        public var maxTransactionBytes = 8192
        public var maxPerSender = 1024
        public var maxTotal = 100_000

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
    }

    struct Sender {
        var entries: [UInt64: Entry] = [:]
        /// The account nonce as of the last committed block this mempool saw.
        var committedNonce: UInt64
    }

    struct State {
        var senders: [Address: Sender] = [:]
        var ids: [Hash: Address] = [:]
        var count = 0
        var arrivals: UInt64 = 0
        /// Recently dropped transactions and why, oldest evicted first.
        var dropped: [Hash: String] = [:]
        var droppedOrder: Deque<Hash> = []
        /// The committed nonce of senders whose last pending transaction a block included, oldest
        /// evicted first. `add` reads the account before it takes the lock; when a block commits in
        /// between and empties the sender, the nonce it read is stale, and a sender rebuilt from it
        /// would wait forever for a nonce already used.
        var emptied: [Address: UInt64] = [:]
        var emptiedOrder: Deque<Address> = []
    }

    public let rollup: RollupID
    public let limits: Limits
    private let state = Mutex(State())
    static let droppedMemory = 10_000
    static let emptiedMemory = 16_384

    public init(rollup: RollupID, limits: Limits = Limits()) {
        self.rollup = rollup
        self.limits = limits
    }

    /// The number of pending transactions.
    public var count: Int { state.withLock { $0.count } }

    /// Admits `tx`. `encodedSize` is its wire size; `account` gives the sender's committed nonce
    /// and native balance. The signature is verified here, outside the lock, so concurrent callers
    /// verify in parallel.
    public func add(_ tx: SignedTransaction, encodedSize: Int, account: (nonce: UInt64, nativeBalance: UInt64))
        throws(MempoolError)
    {
        guard encodedSize <= limits.maxTransactionBytes else {
            throw .tooLarge(size: encodedSize, limit: limits.maxTransactionBytes)
        }
        let t = tx.transaction
        guard t.rollup == rollup else { throw .wrongRollup(expected: rollup, actual: t.rollup) }
        guard tx.hasValidSignature else { throw .badSignature }
        guard t.nonce >= account.nonce else { throw .nonceTooLow(next: account.nonce, actual: t.nonce) }
        guard t.nonce - account.nonce < UInt64(limits.maxPerSender) else {
            throw .nonceTooHigh(next: account.nonce, actual: t.nonce, limit: UInt64(limits.maxPerSender))
        }
        guard account.nativeBalance >= t.fee else { throw .cannotPayFee(fee: t.fee, balance: account.nativeBalance) }
        let id = tx.id
        let sender = t.senderAddress
        let limits = self.limits
        try state.withLock { (s: inout State) throws(MempoolError) in
            guard s.ids[id] == nil else { throw .alreadyKnown }
            var entry =
                s.senders[sender] ?? Sender(committedNonce: max(account.nonce, s.emptied[sender] ?? 0))
            entry.committedNonce = max(entry.committedNonce, account.nonce)
            guard t.nonce >= entry.committedNonce else {
                throw .nonceTooLow(next: entry.committedNonce, actual: t.nonce)
            }
            guard entry.entries[t.nonce] == nil else { throw .nonceTaken(nonce: t.nonce) }
            guard entry.entries.count < limits.maxPerSender else { throw .senderFull(limit: limits.maxPerSender) }
            guard s.count < limits.maxTotal else { throw .full(limit: limits.maxTotal) }
            s.arrivals += 1
            entry.entries[t.nonce] = Entry(transaction: tx, arrival: s.arrivals)
            s.senders[sender] = entry
            s.ids[id] = sender
            s.count += 1
            s.dropped[id] = nil
        }
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
                if s.senders[address] == nil {
                    if s.emptied.updateValue(sender.committedNonce, forKey: address) == nil {
                        s.emptiedOrder.append(address)
                    }
                    while s.emptiedOrder.count > Self.emptiedMemory { s.emptied[s.emptiedOrder.removeFirst()] = nil }
                }
            }
            for (tx, reason) in committed.dropped {
                Self.drop(tx, reason: reason.description, from: &s)
            }
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
