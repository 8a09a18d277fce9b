import API
import Config
import Foundation
import Primitives
import RPC
import Synchronization

/// The one load generator: signed transactions from a set of senders to rollup nodes over JSON-RPC,
/// paced open loop (a schedule of slots at a rate), closed loop (a fixed interval between a sender's
/// sends) or as a fixed count sent back to back, with the nonce kept locally or read from the node.
/// The benchmark (`tributary bench load`), the fault suite's steady load and the integration tests'
/// transfers all run on it; what each of them does with the outcome hangs off the `observer`.
///
/// Slots are numbered over the whole generator and dealt round robin: sender `s` of `n` takes slots
/// `s`, `s + n`, `s + 2n`, … (its `index`-th send is slot `index * n + s`). Each sender sends in
/// order, one request at a time; different senders run concurrently, except with `.count`, where
/// every slot is sent in slot order by one task.
public final class LoadGenerator: Sendable {
    /// A signing account on one rollup and the node it sends to.
    public struct Sender: Sendable {
        public var rollup: RollupID
        public var key: SigningKey
        public var transport: any RPCTransport
        /// The first nonce when nonces are kept locally (ignored when they are read from the node).
        public var nonce: UInt64

        public init(rollup: RollupID, key: SigningKey, transport: any RPCTransport, nonce: UInt64 = 0) {
            self.rollup = rollup
            self.key = key
            self.transport = transport
            self.nonce = nonce
        }
    }

    /// One send's place in the load: what the `call` closure builds a transaction for.
    public struct Slot: Sendable, Equatable {
        /// The sender's index in `senders`.
        public var sender: Int
        /// The sender's own count: this is its `index`-th send (from 0).
        public var index: Int
        /// The slot's number over the generator: `index * senders.count + sender`.
        public var number: Int
        /// When the pacing meant it to leave (for the open loop, its place on the schedule).
        public var scheduled: ContinuousClock.Instant
    }

    /// How sends are spaced.
    public enum Pacing: Sendable {
        /// Open loop: slot `k` leaves at `start + k / rate` seconds, whatever the node answered
        /// before, for every slot before `end`; the generator then returns. Measures a node under a
        /// fixed offered load.
        case schedule(rate: Double, start: ContinuousClock.Instant, end: ContinuousClock.Instant)
        /// Closed loop: each sender waits `interval`, sends, waits again, until the task running the
        /// generator is cancelled. A steady load that never outruns a slow or restarting node.
        case interval(Duration)
        /// `count` slots sent back to back in slot order, then the generator returns.
        case count(Int)
    }

    /// Where a send's nonce comes from.
    public enum Nonces: Sendable {
        /// Kept here per sender from `Sender.nonce`, incremented when the node accepts a send.
        case local
        /// The node's pending nonce (`rollup_getNonce` → `pending`), read before every send: a
        /// sequencer that crashed lost its mempool (only inclusion is durable), and a locally kept
        /// nonce after a lost one would wait forever.
        case pending
    }

    /// A signed transaction on its way.
    public struct Submission: Sendable {
        public var slot: Slot
        public var id: Hash
        public var nonce: UInt64
        /// Just before the request left.
        public var sentAt: ContinuousClock.Instant
    }

    /// What the observer hears about each slot.
    public enum Event: Sendable {
        /// Reported before the request, so a block seen before the node's answer still finds the id.
        case willSubmit(Submission)
        /// The node accepted it into its mempool, `roundTrip` after it left.
        case accepted(Submission, roundTrip: Duration)
        /// The node refused it or the request failed; no submission when it failed before signing
        /// (the pending nonce could not be read).
        case refused(Slot, Submission?, any Error)
    }

    public let senders: [Sender]
    public let pacing: Pacing
    public let nonces: Nonces
    public let fee: UInt64
    /// Whether the first refusal ends the run and is thrown by `run()` (the tests' transfers);
    /// otherwise a refusal is only reported and the load goes on.
    public let stopsAtRefusal: Bool
    let call: @Sendable (Slot) -> Call
    let observer: @Sendable (Event) -> Void
    let localNonces: Mutex<[UInt64]>
    let paused = Mutex(false)

    /// - Parameters:
    ///   - call: what slot's transaction does.
    ///   - observer: every event of every slot, from the senders' tasks (it must be quick).
    public init(
        senders: [Sender], pacing: Pacing, nonces: Nonces = .local, fee: UInt64 = 1_000,
        stopsAtRefusal: Bool = false, observer: @escaping @Sendable (Event) -> Void = { _ in },
        call: @escaping @Sendable (Slot) -> Call
    ) {
        precondition(!senders.isEmpty, "a load needs a sender")
        self.senders = senders
        self.pacing = pacing
        self.nonces = nonces
        self.fee = fee
        self.stopsAtRefusal = stopsAtRefusal
        self.observer = observer
        self.call = call
        localNonces = Mutex(senders.map(\.nonce))
    }

    /// While paused, a slot that comes due is skipped (open and closed loop) or waited for
    /// (`.count`); the fault suite pauses its load to let the devnet settle before its checks.
    public var isPaused: Bool {
        get { paused.withLock { $0 } }
        set { paused.withLock { $0 = newValue } }
    }

    /// Each sender's next local nonce (after a run: the first one it has not used).
    public var nextNonces: [UInt64] { localNonces.withLock { $0 } }

    /// When slot `number` of an open-loop schedule is due.
    public static func slotTime(_ number: Int, rate: Double, start: ContinuousClock.Instant) -> ContinuousClock.Instant
    {
        start + .seconds(Double(number) / rate)
    }

    /// Sends the load; returns when the pacing is done (never for `.interval`: cancel the task) or,
    /// with `stopsAtRefusal`, throws the first refusal.
    public func run() async throws {
        let clock = ContinuousClock()
        let n = senders.count
        switch pacing {
        case .count(let count):
            for number in 0..<max(count, 0) {
                while isPaused && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                if Task.isCancelled { return }
                try await send(Slot(sender: number % n, index: number / n, number: number, scheduled: clock.now))
            }
        case .schedule(let rate, let start, let end):
            try await eachSender { s in
                var index = 0
                while !Task.isCancelled {
                    let number = index * n + s
                    let scheduled = Self.slotTime(number, rate: rate, start: start)
                    guard scheduled < end else { return }
                    try? await clock.sleep(until: scheduled, tolerance: .milliseconds(1))
                    if Task.isCancelled { return }
                    if !self.isPaused {
                        try await self.send(Slot(sender: s, index: index, number: number, scheduled: scheduled))
                    }
                    index += 1
                }
            }
        case .interval(let interval):
            try await eachSender { s in
                var index = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { return }
                    if self.isPaused { continue }
                    try await self.send(Slot(sender: s, index: index, number: index * n + s, scheduled: clock.now))
                    index += 1
                }
            }
        }
    }

    /// Runs `body` for every sender concurrently; the first error cancels the others and is thrown.
    private func eachSender(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in senders.indices { group.addTask { try await body(s) } }
            try await group.waitForAll()
        }
    }

    /// Signs and sends one slot's transaction, reporting what happened; throws only a refusal that
    /// ends the run.
    private func send(_ slot: Slot) async throws {
        let sender = senders[slot.sender]
        let client = RollupClient(transport: sender.transport)
        var submission: Submission?
        do {
            let nonce: UInt64
            switch nonces {
            case .local:
                nonce = localNonces.withLock { $0[slot.sender] }
            case .pending:
                nonce = try await client.pendingNonce(of: sender.key.address)
            }
            let tx = Transaction(
                rollup: sender.rollup, nonce: nonce, sender: sender.key.publicKey, fee: fee, call: call(slot)
            ).signed(by: sender.key)
            let sentAt = ContinuousClock.now
            let submitted = Submission(slot: slot, id: tx.id, nonce: nonce, sentAt: sentAt)
            submission = submitted
            observer(.willSubmit(submitted))
            _ = try await client.sendTransaction(tx)
            let roundTrip = ContinuousClock.now - sentAt
            localNonces.withLock { $0[slot.sender] = nonce + 1 }
            observer(.accepted(submitted, roundTrip: roundTrip))
        } catch {
            observer(.refused(slot, submission, error))
            if stopsAtRefusal { throw error }
        }
    }
}
