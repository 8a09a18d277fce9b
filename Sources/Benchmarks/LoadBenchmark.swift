import API
import AsyncHTTPClient
import Config
import Devnet
import Foundation
import Primitives
import RPC
import Synchronization

/// `tributary bench load`: a devnet of real processes (an L1 and N rollup nodes) under a steady,
/// open-loop mixed load for a fixed time — transfers among dev accounts on every rollup and
/// cross-rollup messages with value around a ring (rollup i → i + 1, bank target) — then a drain
/// that waits for every inclusion and relay. It reports, per rollup, what was submitted and
/// included, the throughput, the p50/p99 inclusion latency; the messages' send → relayed latency;
/// each process's resident memory (peak and end) and CPU; each store's growth per 1,000
/// transactions; and every error (rejected submissions, transactions never included or failed,
/// messages never relayed, processes that exited), which must all be 0. The machine's Ed25519
/// verification rate, measured in the same run, is the limit beside the total throughput.
///
/// How latency is measured: each transaction's clock starts just before its `rollup_sendTransaction`
/// request; one poller per rollup asks for the next block height every 10 ms (and at once again
/// after a hit) and stops the clock of every transaction it finds in that block, so an inclusion
/// is seen at most ~10 ms plus one request after the block's commit. The poller costs one small
/// request per node every 10 ms, not one per transaction. Messages are found by a second poller
/// per rollup that every 25 ms asks, in one JSON-RPC batch each, for the receipts of included sends
/// (their message ids) and for `rollup_getRelay` of every message still awaiting its relay there.
public struct LoadBenchmark: Sendable {
    public struct Config: Sendable {
        /// Seconds of load.
        public var durationSeconds = 60.0
        public var rollups = 3
        /// Transactions per second offered to each rollup.
        public var ratePerRollup = 200.0
        /// The share of transactions, in percent, that are cross-rollup messages; the rest are transfers.
        public var messageSharePercent = 5.0
        /// Dev accounts submitting on each rollup, one task each.
        public var accountsPerRollup = 8
        public var l1BlockTimeMs = 250
        public var windowBlocks = 8
        public var rollupBlockTimeMs = 100
        public var outputIntervalBlocks = 5
        /// How long the drain after the load may take before what is still missing counts as errors.
        public var drainTimeoutSeconds = 120.0
        public init() {}
    }

    /// The figures, the number of errors (the `errors/total` figure) and what each error was.
    public struct Report: Sendable {
        public var figures: [Figure]
        public var errors: Int
        /// One line per error (at most 50), empty when the run was clean.
        public var problems: [String]
    }

    public let config: Config
    public let progress: @Sendable (String) -> Void

    public init(config: Config, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.config = config
        self.progress = progress
    }

    /// Whether the rollup's `slot`-th scheduled transaction is a message: spreads the share evenly.
    func isMessage(slot: Int) -> Bool {
        let share = config.messageSharePercent / 100
        return (Double(slot + 1) * share).rounded(.down) > (Double(slot) * share).rounded(.down)
    }

    public func run() async throws -> Report {
        let clock = ContinuousClock()
        let names = (0..<config.rollups).map(GenesisBuilder.name)

        // The machine's limit, measured before anything else runs.
        let sampleKey = DevKeys.account(0)
        let sample = (0..<2_000).map { i in
            Transaction(
                rollup: RollupID(1), nonce: UInt64(i), sender: sampleKey.publicKey, fee: 1_000,
                call: .transfer(to: sampleKey.address, asset: AssetName(rawValue: "X")!, amount: 1)
            ).signed(by: sampleKey)
        }
        let verify = NodeBenchmark.verificationRates(sample, repetitions: 1, progress: progress)

        progress("starting an L1 and \(config.rollups) rollup nodes (\(names.joined(separator: ", ")))")
        var devnetConfig = BenchDevnet.Config()
        devnetConfig.rollups = config.rollups
        devnetConfig.l1BlockTimeMs = config.l1BlockTimeMs
        devnetConfig.windowBlocks = config.windowBlocks
        devnetConfig.rollupBlockTimeMs = config.rollupBlockTimeMs
        devnetConfig.outputIntervalBlocks = config.outputIntervalBlocks
        devnetConfig.devAccounts = config.accountsPerRollup
        let devnet = try BenchDevnet.start("bench-load", config: devnetConfig)
        defer { devnet.stop() }

        // Its own HTTP client: every submitting task and poller may have a request in flight to the same
        // node, more than the shared client's 8 connections per host, and a poller must never queue
        // behind submissions.
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: config.accountsPerRollup + 8)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        do {
            let report = try await measure(devnet: devnet, http: http, names: names, verify: verify, clock: clock)
            try await http.shutdown().get()
            return report
        } catch {
            try? await http.shutdown().get()
            throw error
        }
    }

    func measure(
        devnet: LocalDevnet, http: HTTPClient, names: [String], verify: (one: [Double], all: [Double]),
        clock: ContinuousClock
    ) async throws -> Report {
        let l1 = RPCClient(url: devnet.l1.url, client: http)
        let rpcs = devnet.rollupNodes.map { RPCClient(url: $0.url, client: http) }
        var heights: [UInt64] = []
        for rpc in rpcs { heights.append(try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0) }
        let startHeights = heights
        let storesAtStart = devnet.processes.map { fileSize(devnet.datadir($0.name) + "/data.mdb") ?? 0 }

        let duration = Duration.seconds(config.durationSeconds)
        let loadStart = clock.now + .milliseconds(200)
        let loadEnd = loadStart + duration
        let tracker = LoadTracker(rollups: config.rollups, loadStart: loadStart)
        let l1StartHeight = try await l1.call(L1Method.blockNumber).unsignedValue ?? 0
        tracker.setL1Height(l1StartHeight)
        let cpuAtStart = devnet.processes.map { ProcessStats.read(pid: $0.node.process.processIdentifier) }
        let clientAtStart = ProcessStats.current()

        progress(
            "offering \(formatNumber(config.ratePerRollup)) tx/s to each rollup for \(formatNumber(config.durationSeconds)) s "
                + "(\(formatNumber(config.messageSharePercent))% messages), then draining")
        var cpuAtEnd: [ProcessStats?] = [], clientAtEnd: ProcessStats?
        var loadSeconds = config.durationSeconds
        var drained = false
        await withTaskGroup(of: Void.self) { pollers in
            pollers.addTask { await self.pollL1(l1, tracker: tracker) }
            for r in 0..<config.rollups {
                // Inclusion: each block from the load's start on stops the clock of its transactions.
                let blocks = BlockFollower(
                    from: startHeights[r] + 1, interval: .milliseconds(10), retryAfter: .milliseconds(100),
                    transport: { rpcs[r] },
                    failed: { height, error in tracker.pollFailed("\(names[r]): rollup_getBlock(\(height)): \(error)") }
                ) { block in
                    tracker.blockSeen(
                        rollup: r, transactions: block.transactionIDs,
                        at: block.seenAt)
                }
                pollers.addTask { await blocks.run() }
                pollers.addTask {
                    await self.pollMessages(rpcs[r], rollup: r, name: names[r], tracker: tracker)
                }
            }
            pollers.addTask { await self.reportProgress(tracker: tracker, from: loadStart) }

            await withTaskGroup(of: Void.self) { submitters in
                for r in 0..<config.rollups {
                    submitters.addTask {
                        await self.submit(
                            rollup: r, rpc: rpcs[r], names: names, start: loadStart, end: loadEnd, tracker: tracker)
                    }
                }
            }
            cpuAtEnd = devnet.processes.map { ProcessStats.read(pid: $0.node.process.processIdentifier) }
            clientAtEnd = ProcessStats.current()
            loadSeconds = seconds(clock.now - loadStart)

            progress("load over; draining (at most \(formatNumber(config.drainTimeoutSeconds)) s)")
            let drainDeadline = clock.now + .seconds(config.drainTimeoutSeconds)
            while clock.now < drainDeadline {
                if tracker.isDrained {
                    drained = true
                    break
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            pollers.cancelAll()
        }
        if !drained { progress("the drain timed out") }

        // After the drain: every process still running, its memory, its store.
        var exited: [String] = []
        for (name, node) in devnet.processes where !node.process.isRunning {
            exited.append("\(name) exited with status \(node.process.terminationStatus)")
        }
        let memory = devnet.processes.map { ProcessStats.read(pid: $0.node.process.processIdentifier) }
        let storesAtEnd = devnet.processes.map { fileSize(devnet.datadir($0.name) + "/data.mdb") ?? 0 }

        progress("checking every included transaction's receipt")
        var failedReceipts: [Int] = []
        var receiptProblems: [String] = []
        for r in 0..<config.rollups {
            let (failed, problems) = await checkReceipts(tracker.includedIDs(rollup: r), rpc: rpcs[r], name: names[r])
            failedReceipts.append(failed)
            receiptProblems += problems
        }

        return report(
            tracker: tracker, names: names, verify: verify, loadSeconds: loadSeconds, l1StartHeight: l1StartHeight,
            cpu: (zip(cpuAtStart, cpuAtEnd).map { ($0, $1) }, clientAtStart, clientAtEnd),
            memory: memory, stores: (storesAtStart, storesAtEnd), failedReceipts: failedReceipts,
            extraProblems: exited + receiptProblems, exited: exited.count)
    }

    // MARK: Load

    /// The rollup's load on the one generator: its dev accounts' slots of one schedule (one every
    /// 1/rate s from `start`, account `a` taking slots `a`, `a + accounts`, …), each sent at its time
    /// whatever the node answered before (open loop), with the nonces kept locally.
    func submit(
        rollup r: Int, rpc: RPCClient, names: [String], start: ContinuousClock.Instant, end: ContinuousClock.Instant,
        tracker: LoadTracker
    ) async {
        let accounts = config.accountsPerRollup
        let recipients = (0..<accounts).map { DevKeys.account($0).address }
        let rollupID = RollupID(UInt32(r + 1))
        let destination = RollupID(UInt32((r + 1) % config.rollups + 1))
        let asset = AssetName(rawValue: names[r].uppercased())!
        let senders = (0..<accounts).map {
            LoadGenerator.Sender(rollup: rollupID, key: DevKeys.account($0), transport: rpc)
        }
        let load = LoadGenerator(
            senders: senders, pacing: .schedule(rate: config.ratePerRollup, start: start, end: end),
            observer: { event in
                switch event {
                case .willSubmit(let s):
                    tracker.willSubmit(s.id, rollup: r, isMessage: isMessage(slot: s.slot.number), at: s.sentAt)
                case .accepted(let s, let roundTrip):
                    tracker.accepted(
                        rollup: r, roundTripMs: milliseconds(roundTrip),
                        lagMs: milliseconds(s.sentAt - s.slot.scheduled))
                case .refused(let slot, let s, let error):
                    // Nonces are local: every refusal is of a signed transaction.
                    guard let s else { return }
                    tracker.rejected(
                        s.id, rollup: r, why: "\(names[r]): dev\(slot.sender) nonce \(s.nonce) refused: \(error)")
                }
            }
        ) { slot in
            let a = slot.sender
            return isMessage(slot: slot.number)
                ? .sendMessage(
                    destination: destination, target: "bank", recipient: recipients[a], value: [AssetAmount(asset, 1)],
                    payload: [])
                : .transfer(to: recipients[(a + 1 + slot.index % (accounts - 1)) % accounts], asset: asset, amount: 1)
        }
        try? await load.run()
    }

    // MARK: Pollers

    /// Keeps the tracker's L1 height current (every 20 ms), for message latencies in L1 blocks.
    func pollL1(_ l1: RPCClient, tracker: LoadTracker) async {
        while !Task.isCancelled {
            do {
                if let height = try await l1.call(L1Method.blockNumber).unsignedValue { tracker.setL1Height(height) }
            } catch {
                if Task.isCancelled { break }
                tracker.pollFailed("l1: l1_blockNumber: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Every 25 ms: the message ids of this rollup's included sends (from their receipts), and the
    /// relays of the messages awaited here.
    func pollMessages(_ rpc: RPCClient, rollup r: Int, name: String, tracker: LoadTracker) async {
        while !Task.isCancelled {
            do {
                let sends = tracker.sendsAwaitingID(source: r, limit: 500)
                if !sends.isEmpty {
                    let receipts = try await rpc.batch(RollupMethod.getReceipt, sends.map { [.string($0.hex)] })
                    for (tx, receipt) in zip(sends, receipts) where receipt != .null {
                        let message = receipt["message"]?.stringValue.flatMap { try? Hash(hex: $0) }
                        tracker.sendResolved(
                            tx, source: r, message: message,
                            why: "\(name): message send \(tx.hex) has no message: \(receipt["status"] ?? .null)")
                    }
                }
                let awaited = tracker.awaitingRelay(destination: r, limit: 1_000)
                if !awaited.isEmpty {
                    let relays = try await rpc.batch(RollupMethod.getRelay, awaited.map { [.string($0.hex)] })
                    let at = ContinuousClock.now
                    for (id, relay) in zip(awaited, relays) where relay != .null {
                        tracker.relayed(
                            id, destination: r, success: relay["success"]?.boolValue == true, at: at,
                            why: "\(name): relay of \(id.hex) failed: \(relay["status"] ?? .null)")
                    }
                }
            } catch {
                if Task.isCancelled { break }
                tracker.pollFailed("\(name): message poll: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(25))
        }
    }

    /// A progress line every 10 s of the load.
    func reportProgress(tracker: LoadTracker, from start: ContinuousClock.Instant) async {
        var next = start + .seconds(10)
        while !Task.isCancelled {
            try? await Task.sleep(until: next, clock: .continuous)
            if Task.isCancelled { break }
            let t = tracker.totals()
            progress(
                "\(Int(seconds(next - start))) s: submitted \(t.submitted), included \(t.included), "
                    + "messages relayed \(t.relayed) of \(t.messages), errors \(t.errors)")
            next = next + .seconds(10)
        }
    }

    /// Asks for every receipt (JSON-RPC batches of 500) and counts those missing or not successful.
    func checkReceipts(_ ids: [Hash], rpc: RPCClient, name: String) async -> (failed: Int, problems: [String]) {
        var failed = 0
        var problems: [String] = []
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            do {
                let receipts = try await rpc.batch(RollupMethod.getReceipt, chunk.map { [.string($0.hex)] })
                for (id, receipt) in zip(chunk, receipts) where receipt["success"]?.boolValue != true {
                    failed += 1
                    problems.append("\(name): transaction \(id.hex) receipt: \(receipt)")
                }
            } catch {
                failed += chunk.count
                problems.append("\(name): receipts \(start)..<\(start + chunk.count) unreadable: \(error)")
            }
        }
        return (failed, problems)
    }

    // MARK: Report

    func report(
        tracker: LoadTracker, names: [String], verify: (one: [Double], all: [Double]), loadSeconds: Double,
        l1StartHeight: UInt64,
        cpu: (nodes: [(ProcessStats?, ProcessStats?)], clientStart: ProcessStats?, clientEnd: ProcessStats?),
        memory: [ProcessStats?], stores: ([Int], [Int]), failedReceipts: [Int], extraProblems: [String],
        exited: Int
    ) -> Report {
        let state = tracker.snapshot()
        let mib = 1024.0 * 1024
        var figures: [Figure] = []
        func cores(_ pair: (ProcessStats?, ProcessStats?)) -> Double {
            guard let a = pair.0, let b = pair.1 else { return 0 }
            return (b.cpuSeconds - a.cpuSeconds) / loadSeconds
        }
        func processFigures(_ section: String, _ index: Int, transactions: Int, blocks: Int) {
            figures.append(
                Figure(
                    section: section, name: "RSS peak", samples: [Double(memory[index]?.peakResidentBytes ?? 0) / mib],
                    unit: "MiB", note: "VmHWM after the drain"))
            figures.append(
                Figure(
                    section: section, name: "RSS end", samples: [Double(memory[index]?.residentBytes ?? 0) / mib],
                    unit: "MiB", note: "VmRSS after the drain"))
            figures.append(
                Figure(
                    section: section, name: "CPU during the load", samples: [cores(cpu.nodes[index])], unit: "cores",
                    note: "user + system time / load time"))
            let growth = Double(stores.1[index] - stores.0[index])
            figures.append(
                Figure(
                    section: section, name: "store growth per 1,000 tx",
                    samples: [transactions > 0 ? growth / Double(transactions) * 1000 / 1024 : 0], unit: "KiB",
                    note: String(
                        format: "data.mdb %.1f → %.1f MiB over %d tx in %d blocks", Double(stores.0[index]) / mib,
                        Double(stores.1[index]) / mib, transactions, blocks)))
        }

        let window = Double(config.windowBlocks)
        for (r, name) in names.enumerated() {
            let t = state.rollups[r]
            let throughput = t.lastInclusionSeconds > 0 ? Double(t.included) / t.lastInclusionSeconds : 0
            figures.append(
                Figure(
                    section: name, name: "submitted", samples: [Double(t.submitted)], unit: "tx",
                    note:
                        "offered \(formatNumber(config.ratePerRollup)) tx/s for \(formatNumber(config.durationSeconds)) s, "
                        + "\(t.messages) of them messages to \(names[(r + 1) % names.count])"))
            figures.append(Figure(section: name, name: "included", samples: [Double(t.included)], unit: "tx"))
            figures.append(
                Figure(
                    section: name, name: "throughput", samples: [throughput], unit: "tx/s",
                    note: "included / (load start → last inclusion)"))
            figures.append(
                Figure(
                    section: name, name: "inclusion latency p50", samples: [percentile(t.inclusionMs, 0.5)],
                    unit: "ms",
                    note: "submit → seen in a block; blocks every \(config.rollupBlockTimeMs) ms, polled every 10 ms"))
            figures.append(
                Figure(
                    section: name, name: "inclusion latency p99", samples: [percentile(t.inclusionMs, 0.99)],
                    unit: "ms"))
            figures.append(
                Figure(
                    section: name, name: "submit → accepted p99", samples: [percentile(t.roundTripMs, 0.99)],
                    unit: "ms", note: "the rollup_sendTransaction round trip"))
            processFigures(name, r + 1, transactions: t.included, blocks: t.blocks)
        }
        let totalIncluded = state.rollups.map(\.included).reduce(0, +)
        processFigures("l1", 0, transactions: totalIncluded, blocks: Int(state.l1Height - l1StartHeight))

        let messages = state.rollups.map(\.messages).reduce(0, +)
        figures += [
            Figure(
                section: "messages", name: "sent", samples: [Double(messages)], unit: "messages",
                note: "ring: each rollup to the next, 1 unit of value to a bank target"),
            Figure(section: "messages", name: "relayed", samples: [Double(state.relayed)], unit: "messages"),
            Figure(
                section: "messages", name: "send → relayed p50", samples: [percentile(state.messageMs, 0.5)],
                unit: "ms", note: "submit → the relay seen on the destination, polled every 25 ms"),
            Figure(
                section: "messages", name: "send → relayed p99", samples: [percentile(state.messageMs, 0.99)],
                unit: "ms"),
            Figure(
                section: "messages", name: "send → relayed p50", samples: [percentile(state.messageBlocks, 0.5)],
                unit: "L1 blocks"),
            Figure(
                section: "messages", name: "send → relayed p99", samples: [percentile(state.messageBlocks, 0.99)],
                unit: "L1 blocks"),
            Figure(
                section: "messages", name: "fraud-proof window (protocol)", samples: [window], unit: "L1 blocks",
                note: "\(config.windowBlocks) × \(config.l1BlockTimeMs) ms"),
        ]

        let lastInclusion = state.rollups.map(\.lastInclusionSeconds).max() ?? 0
        let total = lastInclusion > 0 ? Double(totalIncluded) / lastInclusion : 0
        let submittedTotal = state.rollups.map(\.submitted).reduce(0, +)
        let verifyAll = Figure.median(verify.all)
        let clientCores: Double = {
            guard let a = cpu.clientStart, let b = cpu.clientEnd else { return 0 }
            return (b.cpuSeconds - a.cpuSeconds) / loadSeconds
        }()
        figures += [
            Figure(
                section: "all", name: "throughput, all rollups", samples: [total], unit: "tx/s",
                note: "offered \(formatNumber(config.ratePerRollup * Double(config.rollups))) tx/s; "
                    + String(format: "%.1f%% of the all-core Ed25519 verify rate", total / verifyAll * 100)),
            Figure(
                section: "all", name: "submission rate achieved", samples: [Double(submittedTotal) / loadSeconds],
                unit: "tx/s",
                note: "submitted / time to send them; below the offered rate when the submitting tasks fall behind"),
            Figure(
                section: "all", name: "Ed25519 verifications, all cores (limit)", samples: verify.all,
                unit: "verifies/s", note: "\(ProcessInfo.processInfo.activeProcessorCount) cores"),
            Figure(
                section: "all", name: "load generator CPU", samples: [clientCores], unit: "cores",
                note: "this process: signing, HTTP, polling"),
            Figure(
                section: "all", name: "schedule lag p99", samples: [percentile(state.lagMs, 0.99)], unit: "ms",
                note: "how late submissions left (open loop)"),
        ]

        let rejected = state.rollups.map(\.rejected).reduce(0, +)
        let failed = failedReceipts.reduce(0, +)
        let unrelayed = messages - state.relayed - state.failedRelays - state.failedSends
        let errorCounts: [(String, Int)] = [
            ("rejected submissions", rejected),
            ("never included", state.pending),
            ("failed or missing receipts", failed),
            ("message sends without a message", state.failedSends),
            ("unrelayed messages", unrelayed),
            ("failed relays", state.failedRelays),
            ("failed polls", state.failedPolls),
            ("exited processes", exited),
        ]
        let errors = errorCounts.map(\.1).reduce(0, +)
        figures += errorCounts.map { Figure(section: "errors", name: $0.0, samples: [Double($0.1)], unit: "") }
        figures.append(Figure(section: "errors", name: "total", samples: [Double(errors)], unit: "", note: "must be 0"))

        var problems = state.problems + extraProblems
        if state.pending > 0 {
            problems.append("\(state.pending) accepted transactions were never seen in a block:")
            problems += tracker.neverIncluded(limit: 10).map { "  \(names[$0.rollup]): \($0.id.hex)" }
        }
        if unrelayed > 0 { problems.append("\(unrelayed) messages were never relayed") }
        return Report(figures: figures, errors: errors, problems: Array(problems.prefix(50)))
    }
}

/// The load's bookkeeping, shared by the submitting tasks and the pollers.
final class LoadTracker: Sendable {
    struct Pending {
        var rollup: Int
        var sentAt: ContinuousClock.Instant
        var sentL1: UInt64
        var isMessage: Bool
    }

    struct Flight {
        var sentAt: ContinuousClock.Instant
        var sentL1: UInt64
    }

    struct Tally {
        var submitted = 0
        var messages = 0
        var rejected = 0
        var included = 0
        /// Seconds from the load's start to the newest inclusion seen.
        var lastInclusionSeconds = 0.0
        var inclusionMs: [Double] = []
        var roundTripMs: [Double] = []
        var includedIDs: [Hash] = []
        /// Blocks seen since the load began.
        var blocks = 0
    }

    struct State {
        var rollups: [Tally]
        var pending: [Hash: Pending] = [:]
        /// Included sends whose message id is not known yet, by source rollup.
        var sendsAwaitingID: [[Hash: Flight]]
        /// Messages awaiting their relay, by destination rollup.
        var awaitingRelay: [[Hash: Flight]]
        var relayed = 0
        var failedRelays = 0
        var failedSends = 0
        var failedPolls = 0
        var messageMs: [Double] = []
        var messageBlocks: [Double] = []
        var lagMs: [Double] = []
        var l1Height: UInt64 = 0
        var problems: [String] = []

        mutating func problem(_ line: String) { if problems.count < 50 { problems.append(line) } }
    }

    let rollups: Int
    let loadStart: ContinuousClock.Instant
    let state: Mutex<State>

    init(rollups: Int, loadStart: ContinuousClock.Instant) {
        self.rollups = rollups
        self.loadStart = loadStart
        state = Mutex(
            State(
                rollups: Array(repeating: Tally(), count: rollups),
                sendsAwaitingID: Array(repeating: [:], count: rollups),
                awaitingRelay: Array(repeating: [:], count: rollups)))
    }

    func setL1Height(_ height: UInt64) { state.withLock { $0.l1Height = max($0.l1Height, height) } }

    /// Registered before the request, so a block seen before the node's answer still finds it.
    func willSubmit(_ id: Hash, rollup: Int, isMessage: Bool, at: ContinuousClock.Instant) {
        state.withLock {
            $0.pending[id] = Pending(rollup: rollup, sentAt: at, sentL1: $0.l1Height, isMessage: isMessage)
            $0.rollups[rollup].submitted += 1
            if isMessage { $0.rollups[rollup].messages += 1 }
        }
    }

    func accepted(rollup: Int, roundTripMs: Double, lagMs: Double) {
        state.withLock {
            $0.rollups[rollup].roundTripMs.append(roundTripMs)
            $0.lagMs.append(lagMs)
        }
    }

    func rejected(_ id: Hash, rollup: Int, why: String) {
        state.withLock {
            if let p = $0.pending.removeValue(forKey: id), p.isMessage { $0.rollups[rollup].messages -= 1 }
            $0.rollups[rollup].rejected += 1
            $0.problem(why)
        }
    }

    func blockSeen(rollup: Int, transactions: [Hash], at: ContinuousClock.Instant) {
        state.withLock {
            $0.rollups[rollup].blocks += 1
            for id in transactions {
                guard let p = $0.pending[id], p.rollup == rollup else { continue }
                $0.pending[id] = nil
                $0.rollups[rollup].included += 1
                $0.rollups[rollup].lastInclusionSeconds = seconds(at - loadStart)
                $0.rollups[rollup].inclusionMs.append(milliseconds(at - p.sentAt))
                $0.rollups[rollup].includedIDs.append(id)
                if p.isMessage { $0.sendsAwaitingID[rollup][id] = Flight(sentAt: p.sentAt, sentL1: p.sentL1) }
            }
        }
    }

    func sendsAwaitingID(source: Int, limit: Int) -> [Hash] {
        state.withLock { Array($0.sendsAwaitingID[source].keys.prefix(limit)) }
    }

    /// The send's receipt is in: its message now awaits its relay on the next rollup (or, without a
    /// message, the send failed).
    func sendResolved(_ tx: Hash, source: Int, message: Hash?, why: String) {
        state.withLock {
            guard let flight = $0.sendsAwaitingID[source].removeValue(forKey: tx) else { return }
            if let message {
                $0.awaitingRelay[(source + 1) % rollups][message] = flight
            } else {
                $0.failedSends += 1
                $0.problem(why)
            }
        }
    }

    func awaitingRelay(destination: Int, limit: Int) -> [Hash] {
        state.withLock { Array($0.awaitingRelay[destination].keys.prefix(limit)) }
    }

    func relayed(_ message: Hash, destination: Int, success: Bool, at: ContinuousClock.Instant, why: String) {
        state.withLock {
            guard let flight = $0.awaitingRelay[destination].removeValue(forKey: message) else { return }
            guard success else {
                $0.failedRelays += 1
                $0.problem(why)
                return
            }
            $0.relayed += 1
            $0.messageMs.append(milliseconds(at - flight.sentAt))
            $0.messageBlocks.append(Double($0.l1Height) - Double(flight.sentL1))
        }
    }

    func pollFailed(_ why: String) {
        state.withLock {
            $0.failedPolls += 1
            $0.problem(why)
        }
    }

    /// Nothing accepted is still waiting for its block, its message id or its relay.
    var isDrained: Bool {
        state.withLock { s in
            s.pending.isEmpty && s.sendsAwaitingID.allSatisfy(\.isEmpty) && s.awaitingRelay.allSatisfy(\.isEmpty)
        }
    }

    /// Accepted transactions not seen in a block (after the drain: never included).
    func neverIncluded(limit: Int) -> [(id: Hash, rollup: Int)] {
        state.withLock { s in s.pending.prefix(limit).map { ($0.key, $0.value.rollup) } }
    }

    func includedIDs(rollup: Int) -> [Hash] { state.withLock { $0.rollups[rollup].includedIDs } }

    func totals() -> (submitted: Int, included: Int, messages: Int, relayed: Int, errors: Int) {
        state.withLock { s in
            var submitted = 0, included = 0, messages = 0, rejected = 0
            for t in s.rollups {
                submitted += t.submitted
                included += t.included
                messages += t.messages
                rejected += t.rejected
            }
            let errors: Int = rejected + s.failedRelays + s.failedSends + s.failedPolls
            return (submitted, included, messages, s.relayed, errors)
        }
    }

    /// The final figures' inputs (after the drain).
    func snapshot() -> (
        rollups: [Tally], pending: Int, relayed: Int, failedRelays: Int, failedSends: Int, failedPolls: Int,
        messageMs: [Double], messageBlocks: [Double], lagMs: [Double], l1Height: UInt64, problems: [String]
    ) {
        state.withLock { s in
            (
                s.rollups, s.pending.count, s.relayed, s.failedRelays, s.failedSends, s.failedPolls, s.messageMs,
                s.messageBlocks, s.lagMs, s.l1Height, s.problems
            )
        }
    }
}

/// `d` in milliseconds.
func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

/// `d` in seconds.
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
