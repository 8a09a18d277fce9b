import Chain
import Compression
import Config
import Devnet
import Foundation
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// `tributary bench da`: what data availability and disputes cost.
///
/// * DA bytes per transfer: the canonical encoding, the batch payload, and the zstd frame actually
///   posted (at the genesis level and at 19), over blocks of real signed transfers among many
///   accounts.
/// * Compression speed of our zstd layer next to the `zstd` CLI on the same payload (the machine's
///   limit), in MB/s of input.
/// * The fraud-proof witness of one block of 100 / 1,000 / 10,000 transfers over a state of
///   `accounts` funded accounts, and how long the L1 takes to adjudicate it statelessly.
public struct DABenchmark: Sendable {
    public struct Config: Sendable {
        public var accounts = 1000
        public var blockSizes = [100, 1000, 10_000]
        public var repetitions = 3
        public init() {}
    }

    public let config: Config
    public let progress: @Sendable (String) -> Void

    public init(config: Config, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.config = config
        self.progress = progress
    }

    /// A genesis with one rollup, "bench", whose benchmark accounts are funded.
    func genesis() -> GenesisBuilder {
        BenchDevnet.singleRollup(accounts: config.accounts, maxBlockTransactions: 100000)
    }

    /// A DA view over blocks kept in memory.
    final class MemoryDA: DataAvailability {
        var blocks: [UInt64: Block] = [:]
        func block(at height: UInt64) throws -> DABlock { blocks[height].map { .found($0) } ?? .missing }
    }

    /// `zstd -b3 -i1 FILE`: the CLI's compression and decompression MB/s, or nil without zstd.
    static func zstdBench(_ path: String) throws -> (Double, Double)? {
        guard let result = try? Command.run("zstd", ["-b3", "-i1", path]), result.status == 0 else { return nil }
        let text = (result.output + result.stderr).split(separator: "\r").last { $0.contains("MB/s,") } ?? ""
        let speeds = text.split(separator: ",").compactMap { part -> Double? in
            let t = part.trimmingCharacters(in: .whitespaces)
            guard t.hasSuffix("MB/s") else { return nil }
            return Double(t.dropLast(4).trimmingCharacters(in: .whitespaces))
        }
        return speeds.count >= 2 ? (speeds[0], speeds[1]) : nil
    }

    public func run() throws -> [Figure] {
        let genesis = try Genesis.parse(try genesis().data())
        let rollup = genesis.rollups[0]
        progress("deriving \(config.accounts) account keys")
        let keys = (0..<config.accounts).map { DevKeys.account($0) }
        var nonces = [UInt64](repeating: 0, count: keys.count)
        var rng = SplitMix64(seed: 42)
        func transfers(_ count: Int) -> [SignedTransaction] {
            (0..<count).map { _ in
                let s = Int(rng.next() % UInt64(keys.count))
                // Recipients: funded accounts and fresh ones, so blocks create leaves too.
                let to =
                    rng.next() % 2 == 0
                    ? keys[Int(rng.next() % UInt64(keys.count))].address
                    : Address(publicKey: DevKeys.key(named: "fresh-\(rng.next() % 100_000)").publicKey)
                defer { nonces[s] += 1 }
                return Transaction(
                    rollup: rollup.id, nonce: nonces[s], sender: keys[s].publicKey, fee: 1_000,
                    call: .transfer(to: to, asset: rollup.nativeAsset, amount: 1 + rng.next() % 1000)
                ).signed(by: keys[s])
            }
        }
        let dir = try TemporaryDirectory("bench-da")
        let store = try ChainStore(datadir: dir.path, rollup: rollup, network: Network(genesis))
        let adjudicator = try Adjudicator(rollup: rollup, network: Network(genesis))
        var figures: [Figure] = []

        // A batch of 20 blocks of 500 transfers: what one posted blob costs per transfer.
        progress("signing and sequencing 10,000 transfers in 20 blocks")
        var blocks: [Block] = []
        for _ in 0..<20 {
            let committed = try store.commitBlock(candidates: transfers(500), timestamp: 0, checkSignatures: true)
            blocks.append(committed.block)
        }
        let count = Double(blocks.reduce(0) { $0 + $1.transactions.count })
        let txBytes = Double(blocks.reduce(0) { $0 + $1.transactions.reduce(0) { $0 + $1.canonicalBytes.count } })
        let payload = BatchCodec.payload(blocks)
        figures.append(
            Figure(section: "da", name: "transfer, canonical encoding", samples: [txBytes / count], unit: "B/transfer"))
        figures.append(
            Figure(
                section: "da", name: "batch payload (20 blocks × 500)", samples: [Double(payload.count) / count],
                unit: "B/transfer"))
        for level: Int32 in [3, 19] {
            let frame = try BatchCodec.encode(blocks, level: level)
            figures.append(
                Figure(
                    section: "da", name: "posted zstd frame, level \(level)", samples: [Double(frame.count) / count],
                    unit: "B/transfer", note: String(format: "ratio %.2fx", Double(payload.count) / Double(frame.count))
                ))
        }
        // Compression speed: ours next to the zstd CLI on the same bytes.
        var ours: [Double] = [], cliCompress: [Double] = [], cliDecompress: [Double] = [], decompress: [Double] = []
        let frame = try BatchCodec.encode(blocks, level: 3)
        let payloadPath = dir.appending("payload.bin")
        try Data(payload).write(to: URL(fileURLWithPath: payloadPath))
        let header = BatchHeader(rollup: rollup.id, seq: 0, firstHeight: 1, lastHeight: UInt64(blocks.count))
        for _ in 0..<config.repetitions {
            let (_, seconds) = try Stopwatch.time { for _ in 0..<5 { _ = try BatchCodec.encode(blocks, level: 3) } }
            ours.append(Double(payload.count * 5) / seconds / 1e6)
            let (_, d) = try Stopwatch.time { for _ in 0..<5 { _ = try BatchCodec.decode(frame, header: header) } }
            decompress.append(Double(payload.count * 5) / d / 1e6)
            // The machine's limit: zstd's own in-memory benchmark on the same payload.
            if let (c, x) = try Self.zstdBench(payloadPath) {
                cliCompress.append(c)
                cliDecompress.append(x)
            }
        }
        figures.append(Figure(section: "da", name: "batch compression (encode + zstd -3)", samples: ours, unit: "MB/s"))
        if !cliCompress.isEmpty {
            figures.append(
                Figure(section: "da", name: "zstd -b3, same payload (limit)", samples: cliCompress, unit: "MB/s"))
        }
        figures.append(
            Figure(section: "da", name: "batch decode (zstd -d + decode + checks)", samples: decompress, unit: "MB/s"))
        if !cliDecompress.isEmpty {
            figures.append(
                Figure(section: "da", name: "zstd -b3 decompression (limit)", samples: cliDecompress, unit: "MB/s"))
        }

        // Fraud-proof witnesses and stateless adjudication.
        for size in config.blockSizes {
            progress("witness of a block of \(size) transfers")
            let committed = try store.commitBlock(candidates: transfers(size), timestamp: 0, checkSignatures: false)
            let block = committed.block
            let h = block.header.height
            let (witness, keyCount) = try store.witness(replaying: [block], after: h - 1)
            let bytes = witness.canonicalBytes.count
            let da = MemoryDA()
            da.blocks[h] = block
            da.blocks[h - 1] = try store.block(at: h - 1)
            var judge: [Double] = []
            for _ in 0..<config.repetitions {
                let (verdict, seconds) = try Stopwatch.time {
                    try adjudicator.judge(
                        .block(height: h, witness: witness), output: Output(header: block.header),
                        anchor: Anchor(height: 0, blockHash: .zero, stateRoot: .zero), brokenAt: nil, da: da)
                }
                precondition(!verdict.isWon, "an honest block lost its dispute: \(verdict.reason)")
                judge.append(seconds * 1000)
            }
            figures.append(
                Figure(
                    section: "witness", name: "block of \(size) transfers: witness size",
                    samples: [Double(bytes) / 1024],
                    unit: "KiB", note: "\(keyCount) keys, \(witness.nodeCount) nodes, \(bytes / size) B/transfer"))
            figures.append(
                Figure(
                    section: "witness", name: "block of \(size) transfers: L1 adjudication", samples: judge, unit: "ms",
                    note: "verify witness + re-execute with signatures + roots"))
        }
        return figures
    }
}
