import CLMDB
import Compression
import Devnet
import Foundation
import Primitives
import StateTree
import Storage

/// `tributary bench storage`: LMDB puts (raw C API vs our layer), state-tree block updates next to
/// the SHA-256 rate, and zstd on a transaction-like corpus next to the zstd CLI's own benchmark.
public struct StorageBenchmark: Sendable {
    public struct Config: Sendable {
        /// Keys put in the LMDB comparison (32-byte keys, 64-byte values, one write transaction).
        public var lmdbKeys = 1_000_000
        /// Keys in the state tree before the measured blocks.
        public var treeKeys = 1_000_000
        /// Block sizes (updates per block) measured on the tree.
        public var blockSizes = [1_000, 10_000]
        /// Repetitions per figure; the report gives their median.
        public var repetitions = 5
        /// Size of the synthetic transaction corpus for zstd.
        public var corpusBytes = 8 << 20
        /// zstd levels measured.
        public var zstdLevels: [Int32] = [1, 3, 19]
        /// Where scratch stores go (removed afterwards).
        public var scratchDirectory = FileManager.default.temporaryDirectory.path
        /// Whether to run the zstd CLI's own benchmark as the reference.
        public var zstdCLI = true

        public init() {}
    }

    public let config: Config
    public let progress: @Sendable (String) -> Void

    public init(config: Config, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.config = config
        self.progress = progress
    }

    public func run() throws -> [Figure] {
        var figures: [Figure] = []
        figures += try lmdb()
        figures += try tree()
        figures += try zstd()
        return figures
    }

    // MARK: LMDB

    /// A 64-byte value with no heap storage, like the fixed-size records the node stores.
    struct Value64: StorageCodable {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

        func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            var copy = words
            return try withUnsafeBytes(of: &copy) { try body($0) }
        }

        init(storageBytes raw: UnsafeRawBufferPointer) throws {
            words = (0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: raw) }
        }

        init(_ rng: inout SplitMix64) {
            words = (rng.next(), rng.next(), rng.next(), rng.next(), rng.next(), rng.next(), rng.next(), rng.next())
        }
    }

    enum BenchTable: Table {
        static let name = "bench"
        typealias Key = Hash
        typealias Value = Value64
    }

    func lmdb() throws -> [Figure] {
        let n = config.lmdbKeys
        var rng = SplitMix64(seed: 0x5eed)
        let keys = (0..<n).map { _ in Hash(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }
        let values = (0..<n).map { _ in Value64(&rng) }
        var raw: [Double] = []
        var layer: [Double] = []
        for rep in 1...config.repetitions {
            progress("lmdb: repetition \(rep)/\(config.repetitions), \(n) puts, raw C API")
            raw.append(Double(n) / (try rawPuts(keys: keys, values: values)))
            progress("lmdb: repetition \(rep)/\(config.repetitions), \(n) puts, Storage layer")
            layer.append(Double(n) / (try layerPuts(keys: keys, values: values)))
        }
        let ratio = Figure.median(raw) / Figure.median(layer)
        return [
            Figure(
                section: "lmdb", name: "raw C API puts", samples: raw, unit: "puts/s",
                note: "\(n) random 32 B keys, 64 B values, one write txn incl. commit"),
            Figure(
                section: "lmdb", name: "Storage layer puts", samples: layer, unit: "puts/s",
                note: String(format: "raw/layer = %.2fx (target <= 1.5x)", ratio)),
        ]
    }

    private func scratch(_ name: String) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("bench-\(name)")
        return dir
    }

    /// Seconds to put every pair through the C API in one transaction, commit included.
    func rawPuts(keys: [Hash], values: [Value64]) throws -> Double {
        let dir = try scratch("raw")
        defer { dir.remove() }
        var env: OpaquePointer?
        func check(_ rc: Int32, _ what: String) throws {
            if rc != 0 {
                throw StorageError.lmdb(code: rc, message: String(cString: mdb_strerror(rc)), operation: what)
            }
        }
        try check(mdb_env_create(&env), "mdb_env_create")
        defer { mdb_env_close(env) }
        try check(mdb_env_set_mapsize(env, 8 << 30), "mdb_env_set_mapsize")
        try check(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs")
        try check(mdb_env_open(env, dir.path, UInt32(MDB_NOTLS), 0o644), "mdb_env_open")
        let (_, seconds) = try Stopwatch.time { () throws -> Void in
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
            var dbi: MDB_dbi = 0
            try check(mdb_dbi_open(txn, "bench", UInt32(MDB_CREATE), &dbi), "mdb_dbi_open")
            for i in keys.indices {
                var rc: Int32 = 0
                keys[i].withUnsafeBytes { k in
                    values[i].withStorageBytes { v in
                        var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                        var value = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                        rc = mdb_put(txn, dbi, &key, &value, 0)
                    }
                }
                if rc != 0 {
                    mdb_txn_abort(txn)
                    try check(rc, "mdb_put")
                }
            }
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
        }
        return seconds
    }

    /// Seconds to put every pair through `Storage` in one write transaction, commit included.
    func layerPuts(keys: [Hash], values: [Value64]) throws -> Double {
        let dir = try scratch("layer")
        defer { dir.remove() }
        var options = Environment.Options()
        options.initialMapSize = 8 << 30
        let env = try Environment(path: dir.path, options: options)
        let (_, seconds) = try Stopwatch.time {
            try env.write { txn in
                for i in keys.indices { try txn.put(BenchTable.self, keys[i], values[i]) }
            }
        }
        return seconds
    }

    // MARK: State tree

    func tree() throws -> [Figure] {
        var figures: [Figure] = []
        figures.append(sha256Rate())

        let dir = try scratch("tree")
        defer { dir.remove() }
        var options = Environment.Options()
        options.initialMapSize = 16 << 30
        let env = try Environment(path: dir.path, options: options)
        var rng = SplitMix64(seed: 0x7733)
        var keys: [Hash] = []
        keys.reserveCapacity(config.treeKeys + 200_000)
        var version: Version = 0
        let chunk = 100_000
        var built = 0
        let (_, buildSeconds) = try Stopwatch.time { () throws -> Void in
            while built < config.treeKeys {
                let count = min(chunk, config.treeKeys - built)
                var updates: [(key: Hash, value: [UInt8]?)] = []
                updates.reserveCapacity(count)
                for _ in 0..<count {
                    let key = Hash(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
                    keys.append(key)
                    updates.append((key, rng.bytes(40)))
                }
                let base = version == 0 ? nil : version
                version += 1
                let v = version
                try env.write { txn in
                    let batch = try StateTree(LMDBTreeReader(txn)).update(
                        base: base, version: v, updates: updates, parallelReaders: LMDBTreeReaderProvider(env))
                    try LMDBTreeStore.write(batch, in: txn)
                }
                built += count
                progress("tree: built \(built)/\(config.treeKeys) keys")
            }
        }
        figures.append(
            Figure(
                section: "tree", name: "initial build", samples: [Double(config.treeKeys) / buildSeconds],
                unit: "keys/s", note: "\(config.treeKeys) keys in blocks of \(chunk)"))

        for size in config.blockSizes {
            var compute: [Double] = []
            var total: [Double] = []
            var perBlockMs: [Double] = []
            var computeMs: [Double] = [], putMs: [Double] = [], commitMs: [Double] = []
            for rep in 1...config.repetitions {
                var updates: [(key: Hash, value: [UInt8]?)] = []
                for i in 0..<size {
                    if i % 10 == 0 {
                        let key = Hash(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
                        keys.append(key)
                        updates.append((key, rng.bytes(40)))
                    } else {
                        updates.append((keys[Int(rng.next() % UInt64(keys.count))], rng.bytes(40)))
                    }
                }
                let base = version
                version += 1
                let v = version
                var computeSeconds = 0.0
                var putSeconds = 0.0
                let (_, seconds) = try Stopwatch.time {
                    try env.write { txn in
                        let (batch, s) = try Stopwatch.time {
                            try StateTree(LMDBTreeReader(txn)).update(
                                base: base, version: v, updates: updates, parallelReaders: LMDBTreeReaderProvider(env))
                        }
                        computeSeconds = s
                        putSeconds = try Stopwatch.time { try LMDBTreeStore.write(batch, in: txn) }.1
                    }
                }
                compute.append(Double(size) / computeSeconds)
                total.append(Double(size) / seconds)
                perBlockMs.append(seconds * 1000)
                computeMs.append(computeSeconds * 1000)
                putMs.append(putSeconds * 1000)
                commitMs.append((seconds - computeSeconds - putSeconds) * 1000)
                progress(
                    "tree: block of \(size) updates, repetition \(rep)/\(config.repetitions): \(String(format: "%.1f", seconds * 1000)) ms"
                )
            }
            figures.append(
                Figure(
                    section: "tree", name: "\(size)-update block, compute", samples: compute, unit: "keys/s",
                    note: "over \(config.treeKeys) keys; 90% updates, 10% inserts"))
            figures.append(
                Figure(
                    section: "tree", name: "\(size)-update block, compute+write+commit", samples: total,
                    unit: "keys/s", note: "fsync'd commit"))
            figures.append(
                Figure(section: "tree", name: "\(size)-update block: tree compute", samples: computeMs, unit: "ms"))
            figures.append(
                Figure(section: "tree", name: "\(size)-update block: LMDB puts", samples: putMs, unit: "ms"))
            figures.append(
                Figure(section: "tree", name: "\(size)-update block: commit (fsync)", samples: commitMs, unit: "ms"))
            figures.append(
                Figure(
                    section: "tree", name: "\(size)-update block latency", samples: perBlockMs, unit: "ms",
                    note: size == 10_000 ? "target < 100 ms" : ""))
        }
        return figures
    }

    /// SHA-256 of 64-byte inputs per second through the same call the tree uses.
    func sha256Rate() -> Figure {
        var samples: [Double] = []
        let count = 2_000_000
        for _ in 1...config.repetitions {
            var a = Hash.sha256(utf8: "a"), b = Hash.sha256(utf8: "b")
            let (_, seconds) = Stopwatch.time {
                for _ in 0..<count {
                    let next = Hash.sha256(tag: 1, a, b)
                    a = b
                    b = next
                }
            }
            precondition(a != b)
            samples.append(Double(count) / seconds)
        }
        return Figure(
            section: "tree", name: "SHA-256 of 65-byte inputs (limit)", samples: samples, unit: "hashes/s",
            note: "swift-crypto, one core")
    }

    // MARK: zstd

    /// A synthetic transfer stream: rollup id, nonce, sender key, fee, call tag, recipient, asset,
    /// amount and a 64-byte signature per record — the shape and entropy of a real batch.
    public static func transferCorpus(bytes: Int, seed: UInt64 = 0xc0ffee) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        let senders = (0..<256).map { _ in rng.bytes(32) }
        let recipients = (0..<1024).map { _ in rng.bytes(20) }
        var nonces = [UInt64](repeating: 0, count: senders.count)
        var e = CanonicalEncoder(reservingCapacity: bytes + 256)
        while e.bytes.count < bytes {
            let s = Int(rng.next() % UInt64(senders.count))
            e.write(UInt32(1))
            e.write(nonces[s])
            nonces[s] += 1
            e.writeFixed(senders[s])
            e.write(UInt64(1))
            e.write(UInt8(1))
            e.writeFixed(recipients[Int(rng.next() % UInt64(recipients.count))])
            e.write(UInt32(0))
            e.write(rng.next() % 1_000_000)
            e.writeFixed(rng.bytes(64))
        }
        return e.bytes
    }

    func zstd() throws -> [Figure] {
        var figures: [Figure] = []
        let corpus = Self.transferCorpus(bytes: config.corpusBytes)
        let batchBytes = 128 << 10
        let batches = stride(from: 0, to: corpus.count, by: batchBytes).map {
            Array(corpus[$0..<min($0 + batchBytes, corpus.count)])
        }
        let megabytes = Double(corpus.count) / 1e6
        for level in config.zstdLevels {
            progress("zstd: level \(level)")
            let compressor = try ZstdCompressor(level: level)
            let decompressor = try ZstdDecompressor()
            var compressRates: [Double] = []
            var decompressRates: [Double] = []
            var compressedSize = 0
            for _ in 1...config.repetitions {
                var frames: [[UInt8]] = []
                let (_, c) = try Stopwatch.time {
                    frames = try batches.map { try compressor.compress($0) }
                }
                compressedSize = frames.reduce(0) { $0 + $1.count }
                let (restored, d) = try Stopwatch.time {
                    try frames.map { try decompressor.decompress($0, maxOutputSize: batchBytes) }
                }
                precondition(restored == batches, "zstd round trip changed the corpus")
                compressRates.append(megabytes / c)
                decompressRates.append(megabytes / d)
            }
            let ratio = Double(corpus.count) / Double(compressedSize)
            figures.append(
                Figure(
                    section: "zstd", name: "level \(level) compress", samples: compressRates, unit: "MB/s",
                    note: String(format: "ratio %.3f on %.1f MB in 128 KiB batches", ratio, megabytes)))
            figures.append(
                Figure(section: "zstd", name: "level \(level) decompress", samples: decompressRates, unit: "MB/s"))
            if config.zstdCLI, let cli = try zstdCLIBenchmark(corpus: corpus, level: level) {
                figures.append(
                    Figure(
                        section: "zstd", name: "zstd CLI -b\(level) compress (limit)", samples: [cli.compress],
                        unit: "MB/s", note: String(format: "ratio %.3f, same corpus, 128 KiB blocks", cli.ratio)))
                figures.append(
                    Figure(
                        section: "zstd", name: "zstd CLI -b\(level) decompress (limit)", samples: [cli.decompress],
                        unit: "MB/s"))
            }
        }
        return figures
    }

    /// Runs `zstd -b<level> -B128K` on the corpus and parses its speeds; nil when the CLI is absent.
    func zstdCLIBenchmark(corpus: [UInt8], level: Int32) throws -> (
        compress: Double, decompress: Double, ratio: Double
    )? {
        let dir = try scratch("zstd")
        defer { dir.remove() }
        let file = dir.appending("corpus.bin")
        try Data(corpus).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["zstd", "-b\(level)", "-B128K", "-i1", "-q", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return nil }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        // The result line reads like "-3   4312345 (1.945) 350.1 MB/s 1500.2 MB/s  corpus.bin"
        // (older releases: "3#corpus.bin : 8388608 -> 4312345 (x1.945), 350.1 MB/s, 1500.2 MB/s").
        guard let line = output.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).last(where: { $0.contains("MB/s") })
        else {
            return nil
        }
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var speeds: [Double] = []
        for (i, token) in tokens.enumerated() where token == "MB/s" && i > 0 {
            if let value = Double(tokens[i - 1]) { speeds.append(value) }
        }
        guard speeds.count == 2,
            let ratioToken = tokens.first(where: { $0.hasPrefix("(") && $0.hasSuffix(")") }),
            let ratio = Double(ratioToken.dropFirst().dropLast().drop(while: { $0 == "x" }))
        else { return nil }
        return (speeds[0], speeds[1], ratio)
    }
}
