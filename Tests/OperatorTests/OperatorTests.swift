import Chain
import Config
import Foundation
import L1Chain
import Operator
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage
import Testing
import TributaryTesting

let genesisPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Genesis/devnet.json").path

func transfer(_ from: SigningKey, nonce: UInt64, to: Address, amount: UInt64) -> SignedTransaction {
    Transaction(
        rollup: RollupID(1), nonce: nonce, sender: from.publicKey, fee: 1,
        call: .transfer(to: to, asset: AssetName(rawValue: "ALPHA")!, amount: amount)
    ).signed(by: from)
}

/// Builds an alpha store of `blocks` blocks of transfers, batched every 4 blocks like a sequencer's
/// batcher does; returns its path. With `messages`, the store knows the devnet's rollups as a node's
/// does and every third block also sends value to beta. The environment is closed when this returns.
func buildStore(
    _ dir: TemporaryDirectory, name: String = "alpha", blocks: Int = 12, messages: Bool = false
) throws -> String {
    let path = dir.appending(name)
    let genesis = try Genesis.load(path: genesisPath)
    let alpha = try #require(genesis.rollup(named: "alpha"))
    let beta = try #require(genesis.rollup(named: "beta"))
    let store = try ChainStore(datadir: path, rollup: alpha, network: Network(genesis))
    var nonces = [UInt64](repeating: 0, count: 4)
    var pending: [Block] = []
    var seq: UInt64 = 0
    for h in 1...blocks {
        var txs: [SignedTransaction] = []
        for i in 0..<(h % 3 + 1) {
            let s = (h + i) % 4
            txs.append(transfer(DevKeys.account(s), nonce: nonces[s], to: DevKeys.account(5 + i).address, amount: 7))
            nonces[s] += 1
        }
        if messages && h % 3 == 0 {
            let sender = DevKeys.account(4)
            txs.append(
                Transaction(
                    rollup: alpha.id, nonce: UInt64(h / 3 - 1), sender: sender.publicKey,
                    fee: 1,
                    call: .sendMessage(
                        destination: beta.id, target: "", recipient: DevKeys.account(6).address,
                        value: [AssetAmount(AssetName(rawValue: "ALPHA")!, 5)], payload: [])
                ).signed(by: sender))
        }
        let committed = try store.commitBlock(candidates: txs, timestamp: UInt64(1000 * h))
        pending.append(committed.block)
        if pending.count == 4 {
            let header = BatchHeader(
                rollup: alpha.id, seq: seq, firstHeight: pending[0].header.height,
                lastHeight: pending[pending.count - 1].header.height)
            let batch = PostedBatch(header: header, l1Height: 10 + seq, frame: try BatchCodec.encode(pending, level: 3))
            try store.environment.write { txn in try txn.put(Batches.self, seq, batch) }
            seq += 1
            pending = []
        }
    }
    return path
}

func verifyReport(_ path: String) throws -> VerifyReport {
    try InspectedStore(datadir: path).verify(genesis: try Genesis.load(path: genesisPath))
}

/// Flips one byte of a stored value, in a writable environment closed before returning.
func flip(_ path: String, table: String, key: [UInt8], at offset: (Int) -> Int) throws {
    let env = try Environment(path: path)
    try env.write { txn in
        var value = try #require(try txn.rawGet(table: table, key: key))
        value[offset(value.count)] ^= 0x01
        try txn.rawPut(table: table, key: key, value: value)
    }
}

@Suite struct OperatorUnitTests {
    @Test func verifyPassesOnAnHonestStoreAndCountsWhatItChecked() throws {
        let dir = try TemporaryDirectory("op-verify")
        let path = try buildStore(dir)
        let report = try verifyReport(path)
        #expect(report.ok, "\(report.problem ?? "")")
        #expect(report.blocks == 12)
        #expect(report.batches == 3)
        #expect(report.stateNodes > 12)
        #expect(report.stateValues > 12)
    }

    @Test func aFlippedStateValueIsNamed() throws {
        let dir = try TemporaryDirectory("op-value")
        let path = try buildStore(dir)
        // The last value written by block 5.
        let key: [UInt8] = try InspectedStore(datadir: path).environment.read { txn in
            var found: [UInt8]?
            try txn.rawForEach(table: StateValues.name, from: TableCodecTestSupport.u64(6), reverse: true) { k, _ in
                found = k
                return false
            }
            return try #require(found)
        }
        try flip(path, table: StateValues.name, key: key) { $0 - 1 }
        let report = try verifyReport(path)
        let problem = try #require(report.problem)
        #expect(problem.hasPrefix("state value 5:0x"), "\(problem)")
        #expect(problem.contains("is damaged"), "\(problem)")
    }

    @Test func aFlippedHeaderIsNamed() throws {
        let dir = try TemporaryDirectory("op-header")
        let path = try buildStore(dir)
        try flip(path, table: Headers.name, key: TableCodecTestSupport.u64(7)) { _ in 60 }
        let problem = try #require(try verifyReport(path).problem)
        #expect(problem.hasPrefix("header 7 is damaged"), "\(problem)")
    }

    @Test func aFlippedBatchIsNamed() throws {
        let dir = try TemporaryDirectory("op-batch")
        let path = try buildStore(dir)
        // A byte in the middle of batch 1's frame (the value ends with the frame).
        try flip(path, table: Batches.name, key: TableCodecTestSupport.u64(1)) { $0 - 20 }
        let problem = try #require(try verifyReport(path).problem)
        #expect(problem.hasPrefix("batch 1 (blocks 5…8) is damaged"), "\(problem)")
    }

    /// A stored batch whose frame does not decode passes only when its blocks are the empty blocks
    /// derivation makes of such a blob, and the report counts it so the operator knows to ask the L1.
    @Test func anUndecodableBatchOfEmptyBlocksIsCountedAndOneOfFullBlocksFails() throws {
        let dir = try TemporaryDirectory("op-undecodable")
        let path = try buildStore(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let store = try ChainStore(datadir: path, rollup: try #require(genesis.rollup(named: "alpha")), network: Network(genesis))
        var empty: [Block] = []
        for h in 13...16 { empty.append(try store.commitBlock(candidates: [], timestamp: UInt64(1000 * h)).block) }
        let header = BatchHeader(rollup: store.rollup.id, seq: 3, firstHeight: 13, lastHeight: 16)
        let frame = try BatchCodec.encode(empty, level: 3)
        try store.environment.write { txn in
            try txn.put(Batches.self, 3, PostedBatch(header: header, l1Height: 13, frame: Array(frame.prefix(frame.count / 2))))
        }
        let report = try verifyReport(path)
        #expect(report.ok, "\(report.problem ?? "")")
        #expect(report.batches == 4)
        #expect(report.undecodableBatches == 1)
        #expect(report.human.contains("1 of them do not decode"), "\(report.human)")
        // The same cut on a batch whose blocks carry transactions is damage.
        try store.environment.write { txn in
            var batch = try #require(try txn.get(Batches.self, 1))
            batch.frame = Array(batch.frame.prefix(batch.frame.count / 2))
            try txn.put(Batches.self, 1, batch)
        }
        let problem = try #require(try verifyReport(path).problem)
        #expect(problem.hasPrefix("batch 1 (blocks 5…8) is damaged"), "\(problem)")
    }

    @Test func aFlippedStateNodeIsNamed() throws {
        let dir = try TemporaryDirectory("op-node")
        let path = try buildStore(dir)
        // Block 9's root node: flip a byte of a child hash.
        let key = TableCodecTestSupport.nodeKey(version: 9)
        try flip(path, table: StateNodes.name, key: key) { $0 - 3 }
        let problem = try #require(try verifyReport(path).problem)
        #expect(problem.contains("9:"), "\(problem)")
        #expect(problem.contains("damaged"), "\(problem)")
    }

    /// Every table of both stores has a display codec, a store holds no table the list does not
    /// name, and every entry of every table of a store that sent messages decodes through it.
    @Test func everyTableOfBothStoresDecodes() throws {
        let rollupNames = RollupStoreTables.all.map { $0.name }, l1Names = L1StoreTables.all.map { $0.name }
        for name in rollupNames + l1Names { #expect(TableCodec.decodes(name), "\(name) has no display codec") }
        let dir = try TemporaryDirectory("op-tables")
        let path = try buildStore(dir, messages: true)
        let l1Path = dir.appending("l1")
        _ = try L1Store(datadir: l1Path, genesis: try Genesis.load(path: genesisPath))
        for (path, names) in [(path, rollupNames), (l1Path, l1Names)] {
            let store = try InspectedStore(datadir: path)
            let tables = try store.environment.tableNames()
            #expect(Set(tables).isSubset(of: names), "\(Set(tables).subtracting(names)) not listed")
            for table in tables {
                let entries = try #require(try store.list(table: table, from: nil, limit: 10_000, reverse: false, raw: false).arrayValue)
                for entry in entries {
                    #expect(entry["value"]?["undecodable"] == nil, "\(table): \(entry)")
                    // A key shown as hex other than a hash or an address is one its codec could not read.
                    if case .string(let key)? = entry["key"], key.hasPrefix("0x") {
                        #expect(key.count == 66 || key.count == 42, "\(table): \(key)")
                    }
                }
            }
        }
        #expect(try InspectedStore(datadir: path).list(table: "outbox", from: nil, limit: 1, reverse: false, raw: false)
            .arrayValue?.first?["value"]?["destination"]?.unsignedValue == 2)
    }

    @Test func getListAndChainQueriesDecode() throws {
        let dir = try TemporaryDirectory("op-inspect")
        let path = try buildStore(dir)
        let store = try InspectedStore(datadir: path)
        #expect(store.kind == .rollup)
        let header = try store.get(table: "headers", key: "3", raw: false)
        #expect(header["value"]?["height"]?.unsignedValue == 3)
        #expect(header["key"]?.unsignedValue == 3)
        let raw = try store.get(table: "headers", key: "3", raw: true)
        #expect(raw["key"]?.stringValue == "0x0000000000000003")
        let listed = try store.list(table: "headers", from: "10", limit: 5, reverse: true, raw: false)
        guard case .array(let items) = listed else { throw OperatorError("not an array") }
        #expect(items.compactMap { $0["key"]?.unsignedValue } == [10, 9, 8, 7, 6])
        let block = try store.block(4)
        guard case .array(let txs)? = block["transactions"] else { throw OperatorError("no transactions") }
        let id = try #require(txs.first?["id"]?.stringValue)
        let tx = try store.transaction(try Hash(hex: id))
        #expect(tx["blockHeight"]?.unsignedValue == 4)
        #expect(tx["status"]?.stringValue == "success")
        let genesis = try Genesis.load(path: genesisPath)
        let account = try store.account(
            DevKeys.account(5).address, genesis: genesis, assets: [], height: nil, proof: true)
        #expect(account["balances"]?["ALPHA"]?.unsignedValue ?? 0 > 0)
        #expect(account["proofs"]?["nonce"] != nil)
        let nodes = try store.list(table: "state_nodes", from: nil, limit: 1, reverse: false, raw: false)
        #expect(nodes.arrayValue?.first?["key"]?.stringValue == "0:")
        // A chain of transfers sent no messages and relayed none.
        #expect(try store.outbox(from: 0, limit: 10).arrayValue?.isEmpty == true)
        #expect(try store.inbox(from: 1, limit: 10).arrayValue?.isEmpty == true)
        #expect(throws: OperatorError.self) { try store.get(table: "headers", key: "99", raw: false) }
        #expect(throws: OperatorError.self) { try store.get(table: "nope", key: "1", raw: false) }
        #expect(throws: OperatorError.self) { try store.blobs(rollup: RollupID(1), from: 0, limit: 1) }
    }

    @Test func diffFindsTheFirstDifferentHeightAndTables() throws {
        let dir = try TemporaryDirectory("op-diff")
        let a = try buildStore(dir, name: "a", blocks: 8)
        let b = try buildStore(dir, name: "b", blocks: 10)
        let same = try InspectedStore(datadir: a).diff(other: try InspectedStore(datadir: b))
        #expect(same["identical"]?.boolValue == true, "\(same)")
        #expect(same["commonHeight"]?.unsignedValue == 8)
        try flip(b, table: Receipts.name, key: TableCodecTestSupport.u64(6)) { $0 - 1 }
        let differ = try InspectedStore(datadir: a).diff(other: try InspectedStore(datadir: b))
        #expect(differ["identical"]?.boolValue == false)
        #expect(differ["firstDifferentHeight"] == nil)
        #expect(differ["tables"]?["receipts"]?["different"]?.unsignedValue == 1, "\(differ)")
        #expect(differ["tables"]?["receipts"]?["firstKey"]?.unsignedValue == 6)
    }

    @Test func aSnapshotRoundTripsAndATamperedOneFailsVerify() throws {
        let dir = try TemporaryDirectory("op-snapshot")
        let path = try buildStore(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let file = dir.appending("alpha.snap")
        let manifest = try Snapshot.create(datadir: path, genesis: genesis, out: file)
        #expect(manifest.height == 12)
        #expect(manifest.tables["batches"] == 3)
        let verified = try Snapshot.verify(file: file, genesis: genesis, full: true)
        #expect(verified.ok, "\(verified.problem ?? "")")
        // `zstd -d` reads the file: the skippable manifest frame, then data.mdb.
        let plain = try Command.run("zstd", ["-d", "-q", "-f", file, "-o", dir.appending("plain.mdb")])
        #expect(plain.status == 0, "\(plain.stderr)")
        // Restore, and the store holds the same head.
        let restored = dir.appending("restored")
        _ = try Snapshot.restore(file: file, datadir: restored)
        let head = try ChainStore(datadir: restored, rollup: try #require(genesis.rollup(named: "alpha")), network: Network(genesis)).head()
        #expect(head.hash == manifest.blockHash)
        #expect(head.stateRoot == manifest.stateRoot)
        #expect(throws: OperatorError.self) { try Snapshot.restore(file: file, datadir: restored) }
        // One flipped byte in the data frame.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count - 100] ^= 0x10
        let tampered = dir.appending("tampered.snap")
        try Data(bytes).write(to: URL(fileURLWithPath: tampered))
        let result = try Snapshot.verify(file: tampered, genesis: genesis, full: false)
        #expect(!result.ok)
        #expect(throws: OperatorError.self) { try Snapshot.restore(file: tampered, datadir: dir.appending("t")) }
        // A manifest that lies about the state root: the checksums still match, the recomputed root does not.
        var lying = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let marker = Array("\"stateRoot\":\"0x".utf8)
        let at = try #require(
            (0..<(lying.count - marker.count)).first { Array(lying[$0..<($0 + marker.count)]) == marker })
        let digit = at + marker.count
        lying[digit] = lying[digit] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        let liar = dir.appending("liar.snap")
        try Data(lying).write(to: URL(fileURLWithPath: liar))
        let lied = try Snapshot.verify(file: liar, genesis: genesis, full: false)
        #expect(
            lied.problem?.hasPrefix("the recomputed state root at 12 is \(manifest.stateRoot)") == true,
            "\(lied.problem ?? "")")
    }

    @Test func tinyChunksGiveTheSameSnapshotVerifyAndDiff() throws {
        let dir = try TemporaryDirectory("op-chunks")
        let path = try buildStore(dir)
        let genesis = try Genesis.load(path: genesisPath)
        // Every scan crosses many read transactions.
        let store = try InspectedStore(datadir: path)
        store.chunkEntries = 3
        let report = try store.verify(genesis: genesis)
        #expect(report.ok, "\(report.problem ?? "")")
        let whole = try verifyReport(path)
        #expect(report.stateNodes == whole.stateNodes)
        let small = dir.appending("small.snap"), big = dir.appending("big.snap")
        let a = try Snapshot.create(datadir: path, genesis: genesis, out: small, chunk: 2)
        let b = try Snapshot.create(datadir: path, genesis: genesis, out: big)
        #expect(a.tables == b.tables)
        _ = try Snapshot.restore(file: small, datadir: dir.appending("restored"))
        let restored = try InspectedStore(datadir: dir.appending("restored"))
        restored.chunkEntries = 2
        let diff = try restored.diff(other: store)
        #expect(diff["identical"]?.boolValue == true, "\(diff)")
        // A store with one more block than the snapshot: the diff names the tables and keys.
        let extra = try buildStore(dir, name: "longer", blocks: 13)
        let longer = try InspectedStore(datadir: extra)
        longer.chunkEntries = 2
        let same = try longer.diff(other: restored)
        #expect(same["commonHeight"]?.unsignedValue == 12)
        #expect(same["identical"]?.boolValue == true, "\(same)")
    }

    @Test func replayFromAStoreAndFromASnapshotReachTheSameRoot() async throws {
        let dir = try TemporaryDirectory("op-replay")
        let path = try buildStore(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        let expected = try InspectedStore(datadir: path).header(12)
        let full = try await Replayer(
            store: try Replayer.newStore(datadir: dir.appending("replayed"), rollup: alpha, genesis: genesis), source: .store(path: path),
            to: nil, progress: nil
        ).run()
        #expect(full.ok, "\(full.mismatch ?? "")")
        #expect(full.head == 12)
        #expect(full.stateRoot.hex == expected["stateRoot"]?.stringValue)
        #expect(full.headHash.hex == expected["hash"]?.stringValue)
        #expect(full.batches == 3)

        // Snapshot at 8 (a replay stopped there), then replay the rest from the store.
        let partial = try await Replayer(
            store: try Replayer.newStore(datadir: dir.appending("to8"), rollup: alpha, genesis: genesis), source: .store(path: path),
            to: 8, progress: nil
        ).run()
        #expect(partial.head == 8)
        let file = dir.appending("at8.snap")
        _ = try Snapshot.create(datadir: dir.appending("to8"), genesis: genesis, out: file)
        _ = try Snapshot.restore(file: file, datadir: dir.appending("from-snap"))
        let rest = try await Replayer(
            store: try Replayer.existingStore(datadir: dir.appending("from-snap"), genesis: genesis),
            source: .store(path: path), to: nil, progress: nil
        ).run()
        #expect(rest.ok)
        #expect(rest.startHeight == 8)
        #expect(rest.head == 12)
        #expect(rest.stateRoot.hex == expected["stateRoot"]?.stringValue)
    }

    /// Regression: `tributary replay` of a chain that sent a cross-rollup message stopped at the first
    /// such block ("does not re-execute to its posted header … outbox root"): the replayer's store
    /// knew only its own rollup, so every `sendMessage` was refused. From genesis and from a snapshot.
    @Test func replayOfAChainThatSentMessagesReachesItsRoots() async throws {
        let dir = try TemporaryDirectory("op-replay-msg")
        let path = try buildStore(dir, messages: true)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        let expected = try InspectedStore(datadir: path).header(12)
        // The chain did send messages: its outbox is not empty.
        #expect(expected["outboxRoot"]?.stringValue != Hash.zero.hex)
        let full = try await Replayer(
            store: try Replayer.newStore(datadir: dir.appending("replayed"), rollup: alpha, genesis: genesis),
            source: .store(path: path), to: nil, progress: nil
        ).run()
        #expect(full.ok, "\(full.mismatch ?? "")")
        #expect(full.head == 12)
        #expect(full.stateRoot.hex == expected["stateRoot"]?.stringValue)
        #expect(full.headHash.hex == expected["hash"]?.stringValue)

        let partial = try await Replayer(
            store: try Replayer.newStore(datadir: dir.appending("to4"), rollup: alpha, genesis: genesis),
            source: .store(path: path), to: 4, progress: nil
        ).run()
        #expect(partial.head == 4)
        let file = dir.appending("at4.snap")
        _ = try Snapshot.create(datadir: dir.appending("to4"), genesis: genesis, out: file)
        _ = try Snapshot.restore(file: file, datadir: dir.appending("from-snap"))
        let rest = try await Replayer(
            store: try Replayer.existingStore(datadir: dir.appending("from-snap"), genesis: genesis),
            source: .store(path: path), to: nil, progress: nil
        ).run()
        #expect(rest.ok, "\(rest.mismatch ?? "")")
        #expect(rest.head == 12)
        #expect(rest.headHash.hex == expected["hash"]?.stringValue)
    }

    @Test func replayStopsAtTheFirstPostedHeaderThatDoesNotReexecute() async throws {
        let dir = try TemporaryDirectory("op-replay-bad")
        let path = try buildStore(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        // Re-encode batch 1 with block 6 claiming a wrong state root.
        let env = try Environment(path: path)
        try env.write { txn in
            var batch = try #require(try txn.get(Batches.self, 1))
            var blocks = try BatchCodec.decode(batch.frame, header: batch.header)
            blocks[1].header.stateRoot = Hash.sha256(utf8: "wrong")
            batch.frame = try BatchCodec.encode(blocks, level: 3)
            try txn.put(Batches.self, 1, batch)
        }
        let report = try await Replayer(
            store: try Replayer.newStore(datadir: dir.appending("replayed"), rollup: alpha, genesis: genesis), source: .store(path: path),
            to: nil, progress: nil
        ).run()
        #expect(!report.ok)
        #expect(report.head == 5)
        #expect(
            report.mismatch?.hasPrefix("block 6 (batch 1) does not re-execute to its posted header: state root") == true
        )
    }
}

extension OperatorUnitTests {
    /// A follower of a lying sequencer keeps the posted blocks it disagrees with in `claims`: its
    /// batches hold the posted blocks, and verify accepts them through the claims.
    @Test func aFollowersBatchesVerifyThroughItsClaims() throws {
        let dir = try TemporaryDirectory("op-claims")
        let path = try buildStore(dir)
        let env = try Environment(path: path)
        try env.write { txn in
            var batch = try #require(try txn.get(Batches.self, 2))
            var blocks = try BatchCodec.decode(batch.frame, header: batch.header)
            blocks[0].header.stateRoot = Hash.sha256(utf8: "lie")
            batch.frame = try BatchCodec.encode(blocks, level: 3)
            try txn.put(Batches.self, 2, batch)
            // Without the claim the batch does not match the store …
            try txn.put(Claims.self, blocks[0].header.height, blocks[0])
        }
        #expect(try verifyReport(path).ok)
        try env.write { txn in _ = try txn.delete(Claims.self, 9) }
        let problem = try #require(try verifyReport(path).problem)
        #expect(problem == "batch 2 (blocks 9…12): block 9 in the batch differs from the stored block", "\(problem)")
    }

    @Test func snapshotsAreOfRollupStoresAndNeverOverwrite() throws {
        let dir = try TemporaryDirectory("op-snapshot-refusals")
        let path = try buildStore(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let out = dir.appending("exists.snap")
        try Data("x".utf8).write(to: URL(fileURLWithPath: out))
        #expect(throws: OperatorError("\(out) exists: choose another --out")) {
            _ = try Snapshot.create(datadir: path, genesis: genesis, out: out)
        }
        #expect(throws: OperatorError.self) { _ = try Snapshot.verify(file: out, genesis: genesis, full: false) }
        #expect(throws: OperatorError.self) {
            _ = try Snapshot.create(datadir: dir.path, genesis: genesis, out: dir.appending("none.snap"))
        }
    }
}

enum TableCodecTestSupport {
    static func u64(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }
    /// The root node key of `version`: version ‖ nibble count 0.
    static func nodeKey(version: UInt64) -> [UInt8] { u64(version) + [0] }
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
