import API
import Chain
import L1Chain
import Compression
import Config
import Foundation
import Primitives
import Settlement
import StateTree
import Storage

/// A rollup store snapshot (docs/operations.md, "Snapshot format"):
///
///     zstd skippable frame (magic 0x184D2A5E, u32 LE length) holding "TRIBUTARY-SNAPSHOT\n" ‖ manifest JSON
///     one standard zstd frame (content size, checksum) holding the compacted store's data.mdb
///
/// `zstd -d FILE -o data.mdb` therefore yields the LMDB file itself (zstd skips skippable frames).
public struct SnapshotManifest: Sendable, Equatable {
    public static let format = "tributary-snapshot"
    public static let formatVersion: UInt64 = 1
    static let magic: UInt32 = 0x184D_2A5E
    static let tag = Array("TRIBUTARY-SNAPSHOT\n".utf8)

    public var rollupID: UInt32
    public var rollupName: String
    public var genesisHash: Hash
    public var height: UInt64
    public var blockHash: Hash
    public var stateRoot: Hash
    public var outboxRoot: Hash
    public var createdAtMs: UInt64
    /// Entries per table in the snapshot.
    public var tables: [String: UInt64]
    public var dataBytes: UInt64
    public var dataSHA256: String
    public var compressedBytes: UInt64
    public var compressedSHA256: String

    public var json: JSONValue {
        .object([
            "format": .string(Self.format), "formatVersion": .number(Self.formatVersion),
            "rollup": .object(["id": .number(rollupID), "name": .string(rollupName)]),
            "genesisHash": .string(genesisHash.hex), "height": .number(height), "blockHash": .string(blockHash.hex),
            "stateRoot": .string(stateRoot.hex), "outboxRoot": .string(outboxRoot.hex),
            "createdAtMs": .number(createdAtMs), "tables": .object(tables.mapValues { .number($0) }),
            "data": .object(["file": .string("data.mdb"), "bytes": .number(dataBytes), "sha256": .string(dataSHA256)]),
            "compressed": .object(["bytes": .number(compressedBytes), "sha256": .string(compressedSHA256)]),
        ])
    }

    init(
        rollupID: UInt32, rollupName: String, genesisHash: Hash, height: UInt64, blockHash: Hash, stateRoot: Hash,
        outboxRoot: Hash, createdAtMs: UInt64, tables: [String: UInt64]
    ) {
        self.rollupID = rollupID
        self.rollupName = rollupName
        self.genesisHash = genesisHash
        self.height = height
        self.blockHash = blockHash
        self.stateRoot = stateRoot
        self.outboxRoot = outboxRoot
        self.createdAtMs = createdAtMs
        self.tables = tables
        dataBytes = 0
        dataSHA256 = ""
        compressedBytes = 0
        compressedSHA256 = ""
    }

    public init(json: JSONValue) throws {
        func field<T>(_ value: JSONValue?, _ name: String, _ parse: (JSONValue) -> T?) throws -> T {
            guard let value, let t = parse(value) else { throw OperatorError("the snapshot manifest lacks \(name)") }
            return t
        }
        func hash(_ v: JSONValue) -> Hash? { v.stringValue.flatMap { try? Hash(hex: $0) } }
        guard json["format"]?.stringValue == Self.format else {
            throw OperatorError("not a Tributary snapshot manifest")
        }
        let version = try field(json["formatVersion"], "formatVersion") { $0.unsignedValue }
        guard version == Self.formatVersion else {
            throw OperatorError(
                "snapshot format version \(version); this tributary reads version \(Self.formatVersion)")
        }
        rollupID = UInt32(try field(json["rollup"]?["id"], "rollup.id") { $0.unsignedValue })
        rollupName = try field(json["rollup"]?["name"], "rollup.name") { $0.stringValue }
        genesisHash = try field(json["genesisHash"], "genesisHash", hash)
        height = try field(json["height"], "height") { $0.unsignedValue }
        blockHash = try field(json["blockHash"], "blockHash", hash)
        stateRoot = try field(json["stateRoot"], "stateRoot", hash)
        outboxRoot = try field(json["outboxRoot"], "outboxRoot", hash)
        createdAtMs = try field(json["createdAtMs"], "createdAtMs") { $0.unsignedValue }
        var tables: [String: UInt64] = [:]
        if case .object(let t)? = json["tables"] { for (k, v) in t { tables[k] = v.unsignedValue ?? 0 } }
        self.tables = tables
        dataBytes = try field(json["data"]?["bytes"], "data.bytes") { $0.unsignedValue }
        dataSHA256 = try field(json["data"]?["sha256"], "data.sha256") { $0.stringValue }
        compressedBytes = try field(json["compressed"]?["bytes"], "compressed.bytes") { $0.unsignedValue }
        compressedSHA256 = try field(json["compressed"]?["sha256"], "compressed.sha256") { $0.stringValue }
    }

    /// The manifest as the skippable frame that starts a snapshot file.
    func frame() throws -> Data {
        let body = Self.tag + [UInt8](try json.serialized())
        var out = Data()
        withUnsafeBytes(of: Self.magic.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: body)
        return out
    }

    /// Reads the manifest frame at the start of `file`; leaves the handle at the data frame.
    static func read(from file: FileHandle, path: String) throws -> SnapshotManifest {
        let head = try file.read(upToCount: 8) ?? Data()
        guard head.count == 8 else { throw OperatorError("\(path) is not a Tributary snapshot (too short)") }
        let bytes = [UInt8](head)
        let magic = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        let length = Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24)
        guard magic == Self.magic, length >= tag.count, length <= 16 << 20 else {
            throw OperatorError("\(path) is not a Tributary snapshot (no manifest frame)")
        }
        let body = [UInt8](try file.read(upToCount: length) ?? Data())
        guard body.count == length, Array(body.prefix(tag.count)) == tag else {
            throw OperatorError("\(path) is not a Tributary snapshot (bad manifest frame)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(Data(body.dropFirst(tag.count))) } catch {
            throw OperatorError("the manifest of \(path) is not JSON: \(error)")
        }
        return try SnapshotManifest(json: json)
    }
}

/// `tributary snapshot create|verify|restore`.
public enum Snapshot {
    /// Entries copied per read transaction: bounds how long the live store's old pages stay pinned.
    public static let entriesPerTransaction = 4096

    /// Takes a consistent snapshot of the rollup store in `datadir` at its current head, while its
    /// node keeps running: everything at or below the head is immutable (blocks, versioned state
    /// nodes and values, batches that end at or below it), so it is copied table by table in many
    /// short read transactions into a fresh store (appended in key order: full pages), which is then
    /// compacted (`mdb_env_copy2` with `MDB_CP_COMPACT`) and compressed as one zstd frame.
    public static func create(
        datadir: String, genesis: Genesis, out: String, level: Int32 = 3, tmpdir: String? = nil,
        chunk: Int = entriesPerTransaction, progress: ProgressSink? = nil
    ) throws -> SnapshotManifest {
        guard !FileManager.default.fileExists(atPath: out) else {
            throw OperatorError("\(out) exists: choose another --out")
        }
        let source = try InspectedStore(datadir: datadir)
        try source.require(.rollup, for: "snapshot create")
        let rollup = try source.rollup(genesis: genesis)
        let genesisHash = try rollup.genesisBlock().block.header.hash
        // The snapshot height and the tables without heights, from one read transaction.
        var whole: [String: [(key: [UInt8], value: [UInt8])]] = [:]
        var chunked: [String] = []
        let head: BlockHeader = try source.environment.read { txn in
            guard let height = try txn.get(Meta.self, Meta.head).flatMap({ try? UInt64(canonicalBytes: $0) }),
                let header = try txn.get(Headers.self, height)
            else { throw OperatorError("\(datadir) has no head block") }
            for name in try txn.tableNames() {
                if Self.heightTables.contains(name) {
                    chunked.append(name)
                    continue
                }
                var entries: [(key: [UInt8], value: [UInt8])] = []
                try txn.rawForEach(table: name, from: nil, reverse: false) { key, value in
                    entries.append((key, value))
                    return true
                }
                whole[name] = entries
            }
            return header
        }
        let H = head.height
        let work = try temporaryDirectory(near: out, tmpdir: tmpdir, purpose: "snapshot")
        defer { try? FileManager.default.removeItem(atPath: work) }
        var tables: [String: UInt64] = [:]
        do {
            var options = Environment.Options()
            options.durability = .noSync
            let target = try Environment(path: work + "/copy", options: options)
            try target.write { txn in
                for (name, entries) in whole {
                    for entry in entries {
                        var value = entry.value
                        if name == Meta.name, entry.key == Array(Meta.head.utf8) { value = H.canonicalBytes }
                        try txn.rawPut(table: name, key: entry.key, value: value, append: true)
                    }
                    tables[name] = UInt64(entries.count)
                }
            }
            for name in chunked {
                tables[name] = try copy(
                    table: name, from: source.environment, to: target, upTo: H, chunk: chunk, progress: progress)
            }
            try target.sync()
            try target.copy(to: work + "/compact", compact: true)
        }
        // The compacted copy, compressed, behind the manifest.
        var manifest = SnapshotManifest(
            rollupID: rollup.id.rawValue, rollupName: rollup.name, genesisHash: genesisHash, height: H,
            blockHash: head.hash, stateRoot: head.stateRoot, outboxRoot: head.outboxRoot,
            createdAtMs: UInt64(Date().timeIntervalSince1970 * 1000), tables: tables)
        let compressed = work + "/data.zst"
        FileManager.default.createFile(atPath: compressed, contents: nil)
        guard let sink = FileHandle(forWritingAtPath: compressed) else {
            throw OperatorError("cannot write \(compressed)")
        }
        let digests: ZstdStream.Digests
        do {
            defer { try? sink.close() }
            digests = try ZstdStream.compress(file: work + "/compact/data.mdb", to: sink, level: level)
        }
        manifest.dataBytes = UInt64(digests.inputBytes)
        manifest.dataSHA256 = digests.inputSHA256
        manifest.compressedBytes = UInt64(digests.outputBytes)
        manifest.compressedSHA256 = digests.outputSHA256
        let partial = out + ".partial"
        FileManager.default.createFile(atPath: partial, contents: nil)
        guard let file = FileHandle(forWritingAtPath: partial) else { throw OperatorError("cannot write \(partial)") }
        do {
            defer { try? file.close() }
            try file.write(contentsOf: try manifest.frame())
            guard let data = FileHandle(forReadingAtPath: compressed) else {
                throw OperatorError("cannot read \(compressed)")
            }
            defer { try? data.close() }
            while let chunk = try data.read(upToCount: 1 << 20), !chunk.isEmpty { try file.write(contentsOf: chunk) }
            try file.synchronize()
        }
        try FileManager.default.moveItem(atPath: partial, toPath: out)
        return manifest
    }

    /// Tables whose every entry belongs to a height (key or value), copied up to the snapshot height.
    static let heightTables: Set<String> = [
        Headers.name, BlockHashes.name, Bodies.name, Receipts.name, TransactionIndex.name, StateNodes.name,
        StateValues.name, StateStale.name, StateRoots.name, Batches.name, Claims.name,
    ]

    /// Copies the entries of `table` at or below height `H` in chunks: one short read transaction on
    /// the live store and one write transaction on the copy per chunk.
    static func copy(
        table: String, from source: Environment, to target: Environment, upTo H: UInt64, chunk limit: Int,
        progress: ProgressSink?
    ) throws -> UInt64 {
        var resume: [UInt8]?
        var copied: UInt64 = 0
        // Keys in heights order: past the first entry above H there is nothing more to copy.
        let ordered = table != BlockHashes.name && table != TransactionIndex.name && table != Batches.name
        var done = false
        while !done {
            var chunk: [(key: [UInt8], value: [UInt8])] = []
            var scanned = 0
            var last: [UInt8]?
            done = true
            try source.read { txn in
                try txn.rawForEach(table: table, from: resume, reverse: false) { key, value in
                    if let r = resume, key == r { return true }
                    if scanned == limit {
                        done = false
                        return false
                    }
                    scanned += 1
                    last = key
                    if let h = InspectedStore.entryHeight(table: table, key: key, value: value), h > H {
                        return !ordered
                    }
                    chunk.append((key, value))
                    return true
                }
            }
            if let last { resume = last }
            try target.write { txn in
                for entry in chunk { try txn.rawPut(table: table, key: entry.key, value: entry.value, append: true) }
            }
            copied += UInt64(chunk.count)
            progress?("copy \(table)", copied, 0)
        }
        return copied
    }

    static func temporaryDirectory(near out: String, tmpdir: String?, purpose: String) throws -> String {
        let base = tmpdir ?? (URL(fileURLWithPath: out).deletingLastPathComponent().path)
        let path = base + "/.tributary-\(purpose)-\(getpid())-\(UInt64(Date().timeIntervalSince1970 * 1e6))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// What `verify` found.
    public struct Verification: Sendable {
        public var manifest: SnapshotManifest
        public var problem: String?
        public var report: VerifyReport?
        /// The check against the L1, when one was asked for.
        public var l1: L1Consistency.Report?
        public var ok: Bool { problem == nil }

        public var json: JSONValue {
            var json: [String: JSONValue] = ["ok": .bool(ok), "manifest": manifest.json]
            if let problem { json["problem"] = .string(problem) }
            if let report { json["store"] = report.json }
            if let l1 { json["l1"] = l1.json }
            return .object(json)
        }
    }

    /// Checks a snapshot: the manifest, both SHA-256 checksums and sizes, then reopens the store it
    /// holds and checks it against the manifest: the head block's hash and roots, every state node
    /// and value rehashed up to the root (the state root recomputed from the stored state), the
    /// header chain, every batch; with `full`, every block re-executed too.
    public static func verify(
        file: String, genesis: Genesis, full: Bool, tmpdir: String? = nil, progress: ProgressSink? = nil
    ) throws -> Verification {
        let work = try temporaryDirectory(near: file, tmpdir: tmpdir, purpose: "verify")
        defer { try? FileManager.default.removeItem(atPath: work) }
        return try verify(file: file, genesis: genesis, full: full, into: work, progress: progress).verification
    }

    /// `verify`, then the unpacked store checked against the L1 at `l1` (`L1Consistency`): its head
    /// at or below the rollup's DA height and equal to the block posted there, its batch records
    /// equal to the L1's blobs. A divergence is the verification's problem.
    public static func verify(
        file: String, genesis: Genesis, full: Bool, l1: L1Client, tmpdir: String? = nil,
        progress: ProgressSink? = nil
    ) async throws -> Verification {
        let work = try temporaryDirectory(near: file, tmpdir: tmpdir, purpose: "verify")
        defer { try? FileManager.default.removeItem(atPath: work) }
        var (verification, store) = try verify(file: file, genesis: genesis, full: full, into: work, progress: progress)
        guard verification.ok, let store else { return verification }
        let report = try await L1Consistency.check(
            environment: store.environment, rollup: RollupID(verification.manifest.rollupID), l1: l1,
            mayBeAhead: false)
        verification.l1 = report
        if let divergence = report.divergence {
            verification.problem = "the snapshot diverges from the L1: \(divergence)"
        }
        return verification
    }

    static func verify(
        file: String, genesis: Genesis, full: Bool, into work: String, progress: ProgressSink?
    ) throws -> (verification: Verification, store: InspectedStore?) {
        let manifest: SnapshotManifest
        do {
            manifest = try unpack(file: file, into: work)
        } catch let problem as SnapshotProblem {
            return (Verification(manifest: problem.manifest, problem: problem.message), nil)
        }
        var verification = Verification(manifest: manifest)
        let store = try InspectedStore(datadir: work)
        let report = try store.verify(genesis: genesis, reexecute: full, progress: progress)
        verification.report = report
        if let problem = report.problem {
            verification.problem = "the store in the snapshot does not verify: \(problem)"
            return (verification, store)
        }
        verification.problem = try compare(store, with: manifest)
        return (verification, store)
    }

    /// Where the unpacked store disagrees with its manifest, if anywhere.
    static func compare(_ store: InspectedStore, with manifest: SnapshotManifest) throws -> String? {
        guard let head = try store.rollupHead(), head == manifest.height else {
            return
                "the store's head is \(try store.rollupHead().map(String.init) ?? "missing"), the manifest says \(manifest.height)"
        }
        return try store.environment.read { txn in
            guard let header = try txn.get(Headers.self, head) else { return "no header at the manifest's height" }
            let tree = StateTree(LMDBTreeReader(txn))
            let root = try tree.rootHash(at: head)
            if header.hash != manifest.blockHash {
                return "block \(head) is \(header.hash), the manifest says \(manifest.blockHash)"
            }
            if root != manifest.stateRoot || header.stateRoot != manifest.stateRoot {
                return "the recomputed state root at \(head) is \(root), the manifest says \(manifest.stateRoot)"
            }
            if header.outboxRoot != manifest.outboxRoot {
                return "the outbox root at \(head) is \(header.outboxRoot), the manifest says \(manifest.outboxRoot)"
            }
            let genesis = try txn.get(Meta.self, Meta.genesis).flatMap { Hash(bytes: $0) }
            if genesis != manifest.genesisHash { return "the store's genesis differs from the manifest's" }
            if header.rollup.rawValue != manifest.rollupID {
                return "the store is rollup \(header.rollup), the manifest says \(manifest.rollupID)"
            }
            let names = Set(try txn.tableNames())
            if names != Set(manifest.tables.keys) {
                return "the store's tables \(names.sorted()) are not the manifest's \(manifest.tables.keys.sorted())"
            }
            for (name, entries) in manifest.tables.sorted(by: { $0.key < $1.key }) {
                let actual = try txn.stat(table: name)?.entries ?? 0
                if UInt64(actual) != entries {
                    return "table \(name) holds \(actual) entries, the manifest says \(entries)"
                }
            }
            return nil
        }
    }

    struct SnapshotProblem: Error {
        var manifest: SnapshotManifest
        var message: String
    }

    /// Decompresses the snapshot's store into `directory` (which must hold no store), checking sizes
    /// and checksums; throws `SnapshotProblem` when they do not match (and removes what it wrote).
    static func unpack(file: String, into directory: String) throws -> SnapshotManifest {
        guard let input = FileHandle(forReadingAtPath: file) else { throw OperatorError("cannot read \(file)") }
        defer { try? input.close() }
        let manifest = try SnapshotManifest.read(from: input, path: file)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let problem = try admissionProblem(input, manifest: manifest, file: file, directory: directory) {
            throw SnapshotProblem(manifest: manifest, message: problem)
        }
        let data = directory + "/data.mdb"
        guard !FileManager.default.fileExists(atPath: data) else { throw OperatorError("\(directory) holds a store") }
        FileManager.default.createFile(atPath: data, contents: nil)
        guard let output = FileHandle(forWritingAtPath: data) else { throw OperatorError("cannot write \(data)") }
        var digests: ZstdStream.Digests
        do {
            defer { try? output.close() }
            do {
                digests = try ZstdStream.decompress(from: input, to: output, limit: manifest.dataBytes)
            } catch let error as OperatorError {
                try? FileManager.default.removeItem(atPath: data)
                throw SnapshotProblem(manifest: manifest, message: error.message)
            }
            try output.synchronize()
        }
        var problem: String?
        if UInt64(digests.inputBytes) != manifest.compressedBytes || digests.inputSHA256 != manifest.compressedSHA256 {
            problem =
                "the data frame's checksum does not match the manifest: \(digests.inputBytes) bytes with SHA-256 \(digests.inputSHA256), the manifest says \(manifest.compressedBytes) bytes with \(manifest.compressedSHA256)"
        } else if UInt64(digests.outputBytes) != manifest.dataBytes || digests.outputSHA256 != manifest.dataSHA256 {
            problem =
                "data.mdb's checksum does not match the manifest: \(digests.outputBytes) bytes with SHA-256 \(digests.outputSHA256), the manifest says \(manifest.dataBytes) bytes with \(manifest.dataSHA256)"
        }
        if let problem {
            try? FileManager.default.removeItem(atPath: data)
            throw SnapshotProblem(manifest: manifest, message: problem)
        }
        return manifest
    }

    /// Why the data frame at `input`'s offset must not be decompressed into `directory`, or nil. The
    /// bound comes before the first byte is written: the frame must fill the rest of the file with
    /// exactly the manifest's compressed size, its header must declare a content size equal to the
    /// manifest's data size, and the disk holding `directory` must have that much free. Decoding then
    /// stops at the declared size, so a small file cannot write more than it says it will.
    static func admissionProblem(
        _ input: FileHandle, manifest: SnapshotManifest, file: String, directory: String
    ) throws -> String? {
        let start = try input.offset()
        let end = try input.seekToEnd()
        try input.seek(toOffset: start)
        let frameBytes = end - start
        if frameBytes != manifest.compressedBytes {
            return "the data frame is \(frameBytes) bytes, the manifest says \(manifest.compressedBytes)"
        }
        let head = [UInt8](try input.read(upToCount: 18) ?? Data())
        try input.seek(toOffset: start)
        let header: FrameHeader
        do { header = try Zstd.frameHeader(head) } catch {
            return "the data frame has no readable zstd frame header: \(error)"
        }
        guard let declared = header.contentSize else {
            return "the data frame's header declares no content size; a snapshot's frame must declare it"
        }
        if declared != manifest.dataBytes {
            return "the data frame's header declares \(declared) bytes, the manifest says \(manifest.dataBytes)"
        }
        if let free = freeBytes(at: directory), free < declared {
            return
                "the snapshot unpacks to \(declared) bytes and the disk holding \(directory) has only \(free) bytes free"
        }
        return nil
    }

    /// Bytes an unprivileged writer may still use on the file system holding `path`.
    static func freeBytes(at path: String) -> UInt64? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
    }

    /// Restores a snapshot into `datadir`, which must be missing or empty. The checksums are checked
    /// on the way and the store's head against the manifest; a node started on the directory then
    /// catches up from the L1.
    public static func restore(file: String, datadir: String) throws -> SnapshotManifest {
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: datadir), !contents.isEmpty {
            throw OperatorError("\(datadir) is not empty: restore into a new or empty directory")
        }
        let manifest: SnapshotManifest
        do { manifest = try unpack(file: file, into: datadir) } catch let problem as SnapshotProblem {
            throw OperatorError("the snapshot is damaged: \(problem.message)")
        }
        do {
            let store = try InspectedStore(datadir: datadir)
            if let problem = try compare(store, with: manifest) {
                throw OperatorError("the restored store does not match the manifest: \(problem)")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: datadir + "/data.mdb")
            try? FileManager.default.removeItem(atPath: datadir + "/lock.mdb")
            throw error
        }
        return manifest
    }

    /// `restore`, then the restored store checked against the L1 at `l1` as `verify` does; a store
    /// that diverges is removed again and the restore refused.
    public static func restore(file: String, datadir: String, l1: L1Client) async throws -> (
        manifest: SnapshotManifest, l1: L1Consistency.Report
    ) {
        let manifest = try restore(file: file, datadir: datadir)
        let report: L1Consistency.Report
        do {
            let store = try InspectedStore(datadir: datadir)
            report = try await L1Consistency.check(
                environment: store.environment, rollup: RollupID(manifest.rollupID), l1: l1, mayBeAhead: false)
        } catch {
            removeStore(datadir)
            throw error
        }
        if let divergence = report.divergence {
            removeStore(datadir)
            throw OperatorError("the snapshot diverges from the L1, nothing restored: \(divergence)")
        }
        return (manifest, report)
    }

    static func removeStore(_ datadir: String) {
        try? FileManager.default.removeItem(atPath: datadir + "/data.mdb")
        try? FileManager.default.removeItem(atPath: datadir + "/lock.mdb")
    }
}
