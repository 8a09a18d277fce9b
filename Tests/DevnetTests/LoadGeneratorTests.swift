import Devnet
import Foundation
import Primitives
import Synchronization
import Testing
import TributaryTesting

/// The load generator's pacings and nonce policies against an in-memory node.
@Suite struct LoadGeneratorTests {
    static let asset = AssetName(rawValue: "ALPHA")!

    func senders(_ count: Int, _ node: FakeNode, nonces: [UInt64] = []) -> [LoadGenerator.Sender] {
        (0..<count).map {
            LoadGenerator.Sender(
                rollup: RollupID(1), key: DevKeys.account($0), transport: node,
                nonce: $0 < nonces.count ? nonces[$0] : 0)
        }
    }

    /// The same instant but for floating point.
    func within(_ a: ContinuousClock.Instant, _ b: ContinuousClock.Instant) -> Bool {
        let d: Duration = a - b
        return d < .microseconds(1) && d > .microseconds(-1)
    }

    func transfer(_ slot: LoadGenerator.Slot) -> Call {
        .transfer(to: DevKeys.account(9).address, asset: Self.asset, amount: UInt64(slot.number + 1))
    }

    /// Records every event.
    final class Events: Sendable {
        let all = Mutex<[LoadGenerator.Event]>([])
        var observer: @Sendable (LoadGenerator.Event) -> Void { { e in self.all.withLock { $0.append(e) } } }
        var submitted: [LoadGenerator.Submission] {
            all.withLock { $0.compactMap { if case .willSubmit(let s) = $0 { s } else { nil } } }
        }
        var accepted: Int { all.withLock { $0.count(where: { if case .accepted = $0 { true } else { false } }) } }
        var refusedNonces: [UInt64?] {
            all.withLock { $0.compactMap { if case .refused(_, let s, _) = $0 { s?.nonce } else { nil } } }
        }
    }

    @Test func theScheduleDealsSlotsRoundRobinAtTheRate() async throws {
        let node = FakeNode(), events = Events()
        let start = ContinuousClock.now + .milliseconds(20)
        let load = LoadGenerator(
            senders: senders(3, node), pacing: .schedule(rate: 500, start: start, end: start + .milliseconds(100)),
            observer: events.observer, call: transfer)
        try await load.run()
        let slots = events.submitted.map(\.slot).sorted { $0.number < $1.number }
        #expect(slots.map(\.number) == Array(0..<50))
        for slot in slots {
            #expect(slot.sender == slot.number % 3)
            #expect(slot.index == slot.number / 3)
            #expect(slot.scheduled == LoadGenerator.slotTime(slot.number, rate: 500, start: start))
            #expect(within(slot.scheduled, start + .milliseconds(2 * slot.number)))
        }
        for s in events.submitted { #expect(s.sentAt >= s.slot.scheduled) }
        #expect(events.accepted == 50)
        #expect(load.nextNonces.reduce(0, +) == 50)
        #expect(within(LoadGenerator.slotTime(7, rate: 4, start: start), start + .milliseconds(1750)))
    }

    @Test func aFixedCountIsSentBackToBackInSlotOrderFromTheGivenNonces() async throws {
        let node = FakeNode()
        node.state.withLock { $0.pending[DevKeys.account(2).address.hex] = 5 }
        let load = LoadGenerator(
            senders: senders(4, node, nonces: [0, 0, 5, 0]), pacing: .count(10), fee: 200, call: transfer)
        try await load.run()
        let sent = node.sent
        #expect(sent.map(\.sender) == (0..<10).map { DevKeys.account($0 % 4).publicKey })
        #expect(sent.map(\.nonce) == [0, 0, 5, 0, 1, 1, 6, 1, 2, 2])
        #expect(sent.allSatisfy { $0.fee == 200 && $0.rollup == RollupID(1) })
        #expect(
            sent.map(\.call)
                == (0..<10).map { .transfer(to: DevKeys.account(9).address, asset: Self.asset, amount: UInt64($0 + 1)) }
        )
        #expect(load.nextNonces == [3, 3, 7, 2])
    }

    @Test func localNoncesAdvanceOnlyOnAcceptance() async throws {
        let node = FakeNode(refuse: { $0 == 2 }), events = Events()
        let load = LoadGenerator(
            senders: senders(1, node), pacing: .count(6), observer: events.observer, call: transfer)
        try await load.run()
        #expect(node.sent.map(\.nonce) == [0, 1, 2, 2, 3, 4])
        #expect(events.accepted == 5)
        #expect(events.refusedNonces == [2])
        #expect(load.nextNonces == [5])
    }

    @Test func theFirstRefusalEndsTheRunWhenAsked() async throws {
        let node = FakeNode(refuse: { $0 == 3 })
        let load = LoadGenerator(senders: senders(2, node), pacing: .count(10), stopsAtRefusal: true, call: transfer)
        await #expect(throws: (any Error).self) { try await load.run() }
        #expect(node.sent.count == 4)
        #expect(load.nextNonces == [2, 1])
    }

    /// A node that lost its mempool: the pending policy goes on from the node's nonce, the local one
    /// is refused.
    @Test func pendingNoncesFollowTheNodeAcrossALostMempool() async throws {
        let node = FakeNode()
        let pending = LoadGenerator(senders: senders(1, node), pacing: .count(3), nonces: .pending, call: transfer)
        try await pending.run()
        node.crash(to: 1)
        let local = LoadGenerator(
            senders: senders(1, node, nonces: pending.nextNonces), pacing: .count(1), stopsAtRefusal: true,
            call: transfer)
        await #expect(throws: (any Error).self) { try await local.run() }
        try await pending.run()
        #expect(node.sent.map(\.nonce) == [0, 1, 2, 3, 1, 2, 3])
        #expect(node.state.withLock { $0.pending[DevKeys.account(0).address.hex] } == 4)
    }

    @Test func aPendingNonceThatCannotBeReadIsARefusalBeforeSigning() async throws {
        let node = FakeNode(), events = Events()
        node.fail(next: 1)
        let load = LoadGenerator(
            senders: senders(1, node), pacing: .count(2), nonces: .pending, observer: events.observer, call: transfer)
        try await load.run()
        #expect(events.refusedNonces == [])
        #expect(
            events.all.withLock { $0.count(where: { if case .refused(_, nil, _) = $0 { true } else { false } }) } == 1)
        #expect(node.sent.map(\.nonce) == [0])
    }

    /// The closed loop sends every interval until cancelled and skips its turns while paused.
    @Test func theClosedLoopPausesAndStopsWhenCancelled() async throws {
        let node = FakeNode()
        let load = LoadGenerator(senders: senders(2, node), pacing: .interval(.milliseconds(5)), call: transfer)
        let running = Task { try await load.run() }
        // Generous waits: the unit tests run in parallel on two cores, and a starved task pool can
        // hold these tasks for seconds. What is asserted is progress and its absence, not timing.
        #expect(await eventually(60, every: .milliseconds(5)) { node.sent.count > 4 })
        load.isPaused = true
        // A send already under way when the pause began may still land; then nothing does.
        var paused = node.sent.count
        #expect(
            await eventually(60, every: .milliseconds(100)) {
                let now = node.sent.count
                defer { paused = now }
                return now == paused
            })
        try await Task.sleep(for: .milliseconds(200))
        #expect(node.sent.count == paused)
        load.isPaused = false
        let resumedFrom = paused
        #expect(await eventually(60, every: .milliseconds(5)) { node.sent.count > resumedFrom })
        running.cancel()
        try await running.value
        let stopped = node.sent.count
        try await Task.sleep(for: .milliseconds(50))
        #expect(node.sent.count == stopped)
        // Each sender's sends in order, nonces from 0 without a gap.
        for s in 0..<2 {
            let nonces = node.sent.filter { $0.sender == DevKeys.account(s).publicKey }.map(\.nonce)
            #expect(nonces == (0..<UInt64(nonces.count)).map { $0 })
        }
    }
}
