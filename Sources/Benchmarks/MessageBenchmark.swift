import API
import Config
import Devnet
import Foundation
import Primitives
import RPC

/// A message in flight, from its send to its relay.
struct Flight: Sendable {
    var tx: Hash
    var sentAt: ContinuousClock.Instant
    var sentL1: UInt64
    var message: Hash? = nil
    var done = false
}

/// The benchmark's flights, shared by the sending and the watching tasks.
actor Flights {
    var all: [Hash: Flight] = [:]
    func add(_ f: Flight) { all[f.tx] = f }
    func update(_ f: Flight) { all[f.tx] = f }
    func pending() -> [Flight] { all.values.filter { !$0.done } }
}

/// `tributary bench messages`: end-to-end latency of cross-rollup messages through a real devnet
/// (an L1 and two rollup nodes as child processes): from the send's submission to the relay's
/// inclusion on the destination, in milliseconds and in L1 blocks, split into the fraud-proof
/// window (the protocol's wait) and our overhead (batching, output interval, relaying, inclusion).
public struct MessageBenchmark: Sendable {
    public struct Config: Sendable {
        public var messages = 40
        public var l1BlockTimeMs = 250
        public var windowBlocks = 8
        public var rollupBlockTimeMs = 100
        public var outputIntervalBlocks = 5
        public init() {}
    }

    public let config: Config
    public let progress: @Sendable (String) -> Void

    public init(config: Config, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.config = config
        self.progress = progress
    }

    public func run() async throws -> [Figure] {
        progress("starting an L1 and two rollup nodes")
        var devnetConfig = BenchDevnet.Config()
        devnetConfig.l1BlockTimeMs = config.l1BlockTimeMs
        devnetConfig.windowBlocks = config.windowBlocks
        devnetConfig.rollupBlockTimeMs = config.rollupBlockTimeMs
        devnetConfig.outputIntervalBlocks = config.outputIntervalBlocks
        let devnet = try BenchDevnet.start("bench-messages", config: devnetConfig)
        defer { devnet.stop() }
        let l1Node = devnet.l1, nodes = devnet.rollupNodes
        let l1 = L1Client(url: l1Node.url), alpha = RollupClient(url: nodes[0].url), beta = RollupClient(url: nodes[1].url)
        let key = DevKeys.account(0)
        let ALPHA = AssetName(rawValue: "ALPHA")!
        let clock = ContinuousClock()
        let flights = Flights()
        let messages = config.messages, blockTime = config.l1BlockTimeMs
        progress("sending \(messages) messages alpha → beta, one every L1 block, while watching for their relays")
        // Sending and watching run at once, so every relay is seen within a polling interval.
        async let sending: Void = {
            for nonce in 0..<UInt64(messages) {
                let tx = Transaction(
                    rollup: RollupID(1), nonce: nonce, sender: key.publicKey, fee: 1_000,
                    call: .sendMessage(
                        destination: RollupID(2), target: "bank", recipient: DevKeys.account(1).address,
                        value: [AssetAmount(ALPHA, 1)], payload: [])
                )
                .signed(by: key)
                let l1Height = try await l1.blockNumber()
                let at = clock.now
                _ = try await alpha.sendTransaction(tx)
                await flights.add(Flight(tx: tx.id, sentAt: at, sentL1: l1Height))
                try await Task.sleep(for: .milliseconds(blockTime))
            }
        }()
        var totalsMs: [Double] = [], totalBlocks: [Double] = [], overheadBlocks: [Double] = [],
            overheadMs: [Double] = []
        let windowMs = Double(config.windowBlocks * config.l1BlockTimeMs)
        let deadline = clock.now + .seconds(180)
        var done = 0
        while done < messages, clock.now < deadline {
            for var flight in await flights.pending() {
                if flight.message == nil {
                    flight.message = try await alpha.receipt(flight.tx)?.message
                    await flights.update(flight)
                }
                guard let m = flight.message else { continue }
                guard try await beta.relay(m) != nil else { continue }
                let elapsed = clock.now - flight.sentAt
                let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                let nowL1 = try await l1.blockNumber()
                let blocks = Double(nowL1 - flight.sentL1)
                totalsMs.append(ms)
                totalBlocks.append(blocks)
                overheadBlocks.append(blocks - Double(config.windowBlocks))
                overheadMs.append(ms - windowMs)
                flight.done = true
                await flights.update(flight)
                done += 1
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await sending
        guard done == messages else {
            throw RPCClient.TransportError.malformedResponse(
                "only \(done) of \(messages) messages were relayed in 180 s")
        }
        let note = "\(config.messages) messages, window \(config.windowBlocks) × \(config.l1BlockTimeMs) ms"
        return [
            Figure(
                section: "messages", name: "send → relayed, p50", samples: [percentile(totalsMs, 0.5)], unit: "ms",
                note: note),
            Figure(section: "messages", name: "send → relayed, p99", samples: [percentile(totalsMs, 0.99)], unit: "ms"),
            Figure(
                section: "messages", name: "send → relayed, p50", samples: [percentile(totalBlocks, 0.5)],
                unit: "L1 blocks"),
            Figure(
                section: "messages", name: "send → relayed, p99", samples: [percentile(totalBlocks, 0.99)],
                unit: "L1 blocks"),
            Figure(
                section: "messages", name: "fraud-proof window (protocol)", samples: [Double(config.windowBlocks)],
                unit: "L1 blocks"),
            Figure(
                section: "messages", name: "our overhead, p50", samples: [percentile(overheadBlocks, 0.5)],
                unit: "L1 blocks",
                note: String(format: "%.0f ms", percentile(overheadMs, 0.5))),
            Figure(
                section: "messages", name: "our overhead, p99 (target ≤ 2)",
                samples: [percentile(overheadBlocks, 0.99)], unit: "L1 blocks",
                note: String(format: "%.0f ms", percentile(overheadMs, 0.99))),
        ]
    }
}
