import API
import Chain
import Config
import Devnet
import Dispatch
import Foundation
import Primitives
import RPC
import StateMachine
import Storage

/// `tributary bench node`: sustained signed transfers/s through a real node (JSON-RPC, mempool with
/// signature checks, sequencer, LMDB), execution-only transfers/s, and this machine's Ed25519
/// verification rate on one and on all cores, measured in the same run.
public struct NodeBenchmark: Sendable {
    public struct Config: Sendable {
        public var senders = 100
        public var transfersPerSender = 200
        /// Transactions per JSON-RPC batch request.
        public var batchSize = 50
        /// Batch requests in flight.
        public var concurrency = 8
        public var repetitions = 3

        public init() {}
    }

    public let config: Config
    public let progress: @Sendable (String) -> Void

    public init(config: Config, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.config = config
        self.progress = progress
    }

    /// A devnet genesis with one rollup, "bench", whose `senders` dev accounts are funded.
    func genesis(senders: Int) -> GenesisBuilder {
        BenchDevnet.singleRollup(accounts: senders, maxBlockTransactions: 10000)
    }

    func transfers(_ keys: [SigningKey], perSender: Int, asset: AssetName) -> [SignedTransaction] {
        var out: [SignedTransaction] = []
        out.reserveCapacity(keys.count * perSender)
        for nonce in 0..<perSender {
            for (i, key) in keys.enumerated() {
                let to = keys[(i + 1 + nonce) % keys.count].address
                out.append(
                    Transaction(
                        rollup: RollupID(1), nonce: UInt64(nonce), sender: key.publicKey, fee: 1_000,
                        call: .transfer(to: to, asset: asset, amount: 1)
                    ).signed(by: key))
            }
        }
        return out
    }

    public func run() async throws -> [Figure] {
        let dir = try TemporaryDirectory("bench-node")
        defer { dir.remove() }
        let genesisPath = dir.appending("genesis.json")
        let genesis = try genesis(senders: config.senders).write(to: genesisPath)
        let rollup = genesis.rollups[0]
        let keys = (0..<config.senders).map { DevKeys.account($0) }
        progress("signing \(config.senders * config.transfersPerSender) transfers")
        let txs = transfers(keys, perSender: config.transfersPerSender, asset: rollup.nativeAsset)

        var figures: [Figure] = []
        let (one, all) = Self.verificationRates(txs, repetitions: config.repetitions, progress: progress)
        figures.append(
            Figure(section: "node", name: "Ed25519 verifications, 1 core (limit)", samples: one, unit: "verifies/s"))
        figures.append(
            Figure(
                section: "node", name: "Ed25519 verifications, all cores (limit)", samples: all, unit: "verifies/s",
                note: "\(ProcessInfo.processInfo.activeProcessorCount) cores"))

        var execution: [Double] = []
        for rep in 1...config.repetitions {
            progress("execution only: repetition \(rep)")
            let store = try ChainStore(datadir: dir.appending("exec-\(rep)"), rollup: rollup, network: Network(genesis))
            let (_, seconds) = try Stopwatch.time {
                for start in stride(from: 0, to: txs.count, by: 5_000) {
                    _ = try store.commitBlock(
                        candidates: Array(txs[start..<min(start + 5_000, txs.count)]), timestamp: 0)
                }
            }
            execution.append(Double(txs.count) / seconds)
        }
        figures.append(
            Figure(
                section: "node", name: "execution only (pre-verified) transfers", samples: execution, unit: "tx/s",
                note: "blocks of 5,000 into LMDB, fsync'd commits"))

        var sustained: [Double] = []
        for rep in 1...config.repetitions {
            progress("through RPC: repetition \(rep)")
            let node = try NodeProcess(
                [
                    "node", "--genesis", genesisPath, "--rollup", "bench", "--datadir", dir.appending("node-\(rep)"),
                    "--rpc-port", "0", "--standalone",
                    "--log-level", "warning",
                ], logPath: dir.appending("node-\(rep).log"))
            defer { node.stop() }
            let rpc = RPCClient(url: node.url)
            let batches = stride(from: 0, to: txs.count, by: config.batchSize).map {
                Array(txs[$0..<min($0 + config.batchSize, txs.count)])
            }
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, batch) in batches.enumerated() {
                    if i >= config.concurrency { try await group.next() }
                    group.addTask {
                        let body: JSONValue = .array(
                            batch.enumerated().map { j, tx in
                                .object([
                                    "jsonrpc": .string("2.0"), "id": .number(j),
                                    "method": .string(RollupMethod.sendTransaction.rawValue),
                                    "params": .array([.string("0x" + Hex.encode(tx.canonicalBytes))]),
                                ])
                            })
                        let reply = try await rpc.post(try body.serialized())
                        if case .array(let replies) = reply, let failure = replies.first(where: { $0["error"] != nil })
                        {
                            throw RPCError(code: -1, message: "a transfer was refused: \(failure)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let last = txs[txs.count - 1]
            while try await rpc.call(RollupMethod.getReceipt, [.string(last.id.hex)]) == .null {
                try await Task.sleep(for: .milliseconds(5))
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            sustained.append(Double(txs.count) / seconds)
        }
        let ratio = Figure.median(sustained) / Figure.median(all)
        figures.append(
            Figure(
                section: "node", name: "sustained signed transfers through RPC", samples: sustained, unit: "tx/s",
                note: String(
                    format: "%.0f%% of the all-core verify rate (target >= 70%%); batches of %d, %d in flight",
                    ratio * 100, config.batchSize, config.concurrency)))
        return figures
    }

    /// Verifications per second of the transfers' signatures (at most 20,000) on one core and on all of
    /// them, `repetitions` times each: the machine's limit for anything that checks signatures.
    static func verificationRates(
        _ txs: [SignedTransaction], repetitions: Int, progress: @Sendable (String) -> Void
    ) -> (one: [Double], all: [Double]) {
        let sample = Array(txs.prefix(20_000))
        var one: [Double] = [], all: [Double] = []
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for rep in 1...repetitions {
            progress("Ed25519: repetition \(rep)")
            let (ok, s1) = Stopwatch.time { sample.allSatisfy(\.hasValidSignature) }
            precondition(ok)
            one.append(Double(sample.count) / s1)
            let (_, s2) = Stopwatch.time {
                DispatchQueue.concurrentPerform(iterations: cores) { w in
                    for i in stride(from: w, to: sample.count, by: cores) { precondition(sample[i].hasValidSignature) }
                }
            }
            all.append(Double(sample.count) / s2)
        }
        return (one, all)
    }
}
