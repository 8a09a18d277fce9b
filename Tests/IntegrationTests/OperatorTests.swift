import API
import Chain
import Compression
import Config
import Foundation
import L1Chain
import Node
import Primitives
import RPC
import Settlement
import StateMachine
import Storage
import Testing
import TributaryTesting

/// Runs `tributary` and parses its --json output.
func tributaryJSON(_ arguments: [String]) throws -> (status: Int32, json: JSONValue?, stderr: String) {
    let result = try TributaryBinary.run(arguments + ["--json"])
    return (result.status, try? JSONValue.parse(Data(result.stdout)), result.stderr)
}

/// Copies a store directory (a stopped node's), for tampering.
func copyStore(_ from: String, _ to: String) throws {
    try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: from + "/data.mdb", toPath: to + "/data.mdb")
}

/// Flips one byte of the value under `key` in `table` of the store at `path`.
func flipByte(_ path: String, table: String, key: [UInt8], offset: (Int) -> Int) throws {
    let env = try Environment(path: path)
    try env.write { txn in
        var value = try #require(try txn.rawGet(table: table, key: key))
        value[offset(value.count)] ^= 0x01
        try txn.rawPut(table: table, key: key, value: value)
    }
}

func bigEndian(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

/// Runs `mdb_stat -a` and returns, per table, its figures by label ("Entries", "Depth", …).
func mdbStat(_ datadir: String) throws -> [String: [String: UInt64]] {
    let output = try Command.run("mdb_stat", ["-a", datadir]).output
    var tables: [String: [String: UInt64]] = [:]
    var current: String?
    for line in output.split(separator: "\n") {
        if line.hasPrefix("Status of ") {
            current = String(line.dropFirst("Status of ".count))
            continue
        }
        guard let current, let colon = line.firstIndex(of: ":") else { continue }
        let label = line[..<colon].trimmingCharacters(in: .whitespaces)
        if let n = UInt64(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)) {
            tables[current, default: [:]][label] = n
        }
    }
    return tables
}

@Suite(.serialized) struct OperatorIntegrationTests {
    /// A live sequencer under load and its L1: every `db` query answers on the running stores; after
    /// they stop, `stats` agrees with `mdb_stat` figure by figure, `verify` passes, and one flipped
    /// byte of a state value, a header or a batch makes `verify` fail naming it.
    @Test func dbToolsOnStoresWrittenByRealNodesUnderLoad() async throws {
        let dir = try TemporaryDirectory("op-db")
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url)
        let l1 = L1Client(url: l1Node.url)
        var nonces: [Int: UInt64] = [:]
        let ids = try await sendTransfers(alpha, count: 300, seed: 7, nonces: &nonces)
        let lastID = try #require(ids.last)
        #expect(try await eventually(30) { try await alpha.call(RollupMethod.getReceipt, [.string(lastID.hex)]) != .null })
        #expect(try await eventually(30) { (try await l1.status().rollup(RollupID(1))?.daHeight ?? 0) >= 20 })
        let store = dir.appending("alpha"), l1Store = dir.appending("l1")

        // Live: verify, stats and the queries, while both nodes keep writing.
        let live = try TributaryBinary.run(["db", "verify", "--datadir", store, "--genesis", genesis])
        #expect(live.status == 0, "\(live.output) \(live.stderr)")
        #expect(live.output.hasPrefix("ok: alpha, blocks 1…"), "\(live.output)")
        let liveL1 = try TributaryBinary.run(["db", "verify", "--datadir", l1Store])
        #expect(liveL1.status == 0, "\(liveL1.output) \(liveL1.stderr)")
        let stats = try tributaryJSON(["db", "stats", "--datadir", store, "--l1-datadir", l1Store])
        #expect(stats.status == 0)
        #expect(stats.json?["kind"]?.stringValue == "rollup")
        #expect(stats.json?["stateRoot"]?.stringValue?.hasPrefix("0x") == true)
        #expect(stats.json?["postedHeight"]?.unsignedValue ?? 0 >= 20)
        #expect(stats.json?["l1DAHeight"]?.unsignedValue ?? 0 >= 20, "\(stats.stderr)")
        #expect(stats.json?["finalizedHeight"]?.unsignedValue != nil)
        let l1Stats = try tributaryJSON(["db", "stats", "--datadir", l1Store])
        #expect(l1Stats.json?["kind"]?.stringValue == "l1")
        #expect(l1Stats.json?["rollups"]?.arrayValue?.first?["daHeight"]?.unsignedValue ?? 0 >= 20)

        let tx = try tributaryJSON(["db", "tx", lastID.hex, "--datadir", store])
        #expect(tx.status == 0, "\(tx.stderr)")
        let txHeight = try #require(tx.json?["blockHeight"]?.unsignedValue)
        #expect(tx.json?["status"]?.stringValue == "success")
        let block = try tributaryJSON(["db", "block", "\(txHeight)", "--datadir", store])
        #expect(block.json?["transactions"]?.arrayValue?.contains { $0["id"]?.stringValue == lastID.hex } == true)
        let header = try tributaryJSON(["db", "header", "\(txHeight)", "--datadir", store])
        #expect(header.json?["hash"] == block.json?["hash"])
        let rpcHeader = try await alpha.call(RollupMethod.getBlock, [.number(txHeight)])
        #expect(header.json?["stateRoot"] == rpcHeader["stateRoot"])
        let got = try tributaryJSON(["db", "get", "headers", "\(txHeight)", "--datadir", store])
        #expect(got.json?["value"]?["hash"] == header.json?["hash"])
        let listed = try tributaryJSON(["db", "list", "headers", "--limit", "3", "--reverse", "--datadir", store])
        #expect(listed.json?.arrayValue?.count == 3)
        let rawList = try TributaryBinary.run(["db", "list", "tx_index", "--limit", "2", "--raw", "--datadir", store])
        #expect(rawList.status == 0 && rawList.output.contains("0x"))
        let account = try tributaryJSON([
            "db", "account", DevKeys.account(5).address.hex, "--proof", "--genesis", genesis, "--datadir", store,
        ])
        #expect(account.json?["balances"]?["ALPHA"]?.unsignedValue ?? 0 > 0, "\(account.stderr)")
        #expect(account.json?["proofs"]?["nonce"]?.stringValue?.hasPrefix("0x") == true)
        let outbox = try TributaryBinary.run(["db", "outbox", "--datadir", store])
        #expect(outbox.status == 0)
        #expect(outbox.output.contains("no messages"), "\(outbox.output)")
        let inbox = try tributaryJSON(["db", "inbox", "--datadir", store])
        #expect(inbox.status == 0 && inbox.json?.arrayValue?.isEmpty == true)
        let batches = try tributaryJSON(["db", "batches", "--datadir", store])
        #expect(batches.json?.arrayValue?.first?["seq"]?.unsignedValue == 0)
        let blobs = try tributaryJSON(["db", "blobs", "--rollup", "1", "--datadir", l1Store])
        #expect(blobs.json?.arrayValue?.first?["commitment"] == batches.json?.arrayValue?.first?["commitment"])
        // A rollup is named by its name or its id, as in every other command; a wrong name says what to type.
        let byName = try tributaryJSON(["db", "blobs", "--rollup", "alpha", "--genesis", genesis, "--datadir", l1Store])
        // (alpha is still posting: the first blob is the one both reads saw.)
        #expect(
            byName.status == 0 && byName.json?.arrayValue?.first == blobs.json?.arrayValue?.first,
            "\(byName.stderr)")
        let outputsOfAlpha = try tributaryJSON(["db", "outputs", "--rollup", "alpha", "--genesis", genesis, "--datadir", l1Store])
        #expect(outputsOfAlpha.status == 0, "\(outputsOfAlpha.stderr)")
        let unknown = try TributaryBinary.run([
            "db", "blobs", "--rollup", "delta", "--genesis", genesis, "--datadir", l1Store,
        ])
        #expect(
            unknown.status != 0 && unknown.stderr.contains("no rollup named \"delta\"")
                && unknown.stderr.contains("alpha (1)"), "\(unknown.stderr)")
        let l1Header = try tributaryJSON(["db", "header", "1", "--datadir", l1Store])
        #expect(l1Header.json?["height"]?.unsignedValue == 1 && l1Header.json?["entriesRoot"] != nil)
        let firstBlob = try #require(blobs.json?.arrayValue?.first?["l1Height"]?.unsignedValue)
        let l1Block = try tributaryJSON(["db", "block", "\(firstBlob)", "--datadir", l1Store])
        // The form `l1_getBlock` serves.
        #expect(l1Block.json?["transactions"]?.arrayValue?.contains { $0["type"]?.stringValue == "postBlob" } == true)
        let blobEntry = try tributaryJSON(["db", "get", "blobs", "1:0", "--datadir", l1Store])
        #expect(blobEntry.json?["key"]?.stringValue == "1:0")
        #expect(blobEntry.json?["value"]?["commitment"] == batches.json?.arrayValue?.first?["commitment"])
        let l1Rollups = try tributaryJSON(["db", "list", "l1_rollups", "--datadir", l1Store])
        #expect(l1Rollups.json?.arrayValue?.first?["value"]?["nextSeq"]?.unsignedValue ?? 0 >= 1)
        let outputsList = try tributaryJSON(["db", "outputs", "--datadir", l1Store])
        #expect(outputsList.status == 0 && (outputsList.json?.arrayValue?.count ?? 0) >= 1, "\(outputsList.stderr)")
        // The exact posted bytes: a zstd frame `zstd -d` decodes; the L1's and the sequencer's are one.
        let blobFile = dir.appending("blob0.zst"), batchFile = dir.appending("batch0.zst")
        #expect(
            try TributaryBinary.run([
                "db", "blob", "--rollup", "1", "--seq", "0", "--out", blobFile, "--datadir", l1Store,
            ])
            .status == 0)
        #expect(
            try TributaryBinary.run(["db", "blob", "--seq", "0", "--out", batchFile, "--datadir", store]).status == 0)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: blobFile)) == Data(contentsOf: URL(fileURLWithPath: batchFile)))
        let decoded = try Command.run("zstd", ["-d", "-c", blobFile])
        #expect(decoded.status == 0 && decoded.stdout.first == 1)
        // Bad input: clear errors, non-zero exits.
        let missing = try TributaryBinary.run(["db", "get", "headers", "999999", "--datadir", store])
        #expect(missing.status != 0 && missing.stderr.contains("headers has no key 999999"), "\(missing.stderr)")
        let wrongKind = try TributaryBinary.run(["db", "blobs", "--rollup", "1", "--datadir", store])
        #expect(wrongKind.status != 0 && wrongKind.stderr.contains("needs an L1 store"), "\(wrongKind.stderr)")

        #expect(alphaNode.stop() == 0)
        #expect(l1Node.stop() == 0)

        // Stopped: stats equals mdb_stat, figure by figure, for both stores.
        for path in [store, l1Store] {
            let ours = try tributaryJSON(["db", "stats", "--datadir", path])
            let theirs = try mdbStat(path)
            guard case .object(let tables)? = ours.json?["tables"] else {
                Issue.record("no tables")
                continue
            }
            #expect(Set(tables.keys) == Set(theirs.keys).subtracting(["Main DB"]))
            // The free-page picture too: the free list's entries and free pages, as `mdb_stat -f`.
            let free = try Command.run("mdb_stat", ["-f", path]).output
            let section = free.components(separatedBy: "Status of Main DB")[0]
            func figure(_ label: String) -> UInt64? {
                section.split(separator: "\n").first { $0.contains(label + ":") }
                    .flatMap { UInt64($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
            }
            #expect(ours.json?["freeList"]?["freePages"]?.unsignedValue == figure("Free pages"), "\(free)")
            #expect(ours.json?["freeList"]?["entries"]?.unsignedValue == figure("Entries"), "\(free)")
            for (name, t) in tables {
                let m = try #require(theirs[name], "\(name)")
                #expect(t["entries"]?.unsignedValue == m["Entries"], "\(name)")
                #expect(t["depth"]?.unsignedValue == m["Tree depth"], "\(name)")
                #expect(t["branchPages"]?.unsignedValue == m["Branch pages"], "\(name)")
                #expect(t["leafPages"]?.unsignedValue == m["Leaf pages"], "\(name)")
                #expect(t["overflowPages"]?.unsignedValue == m["Overflow pages"], "\(name)")
            }
        }
        let verified = try TributaryBinary.run(["db", "verify", "--datadir", store, "--genesis", genesis])
        #expect(verified.status == 0, "\(verified.output)")

        // One flipped byte, three ways: verify fails and names it.
        let valueCopy = dir.appending("tampered-value"), headerCopy = dir.appending("tampered-header")
        let batchCopy = dir.appending("tampered-batch")
        for copy in [valueCopy, headerCopy, batchCopy] { try copyStore(store, copy) }
        // The newest stored value: its version is the newest of its key, so the head's tree holds it
        // (an older version a later block replaced is history no leaf of the head points to, and
        // which key that is depended on the load).
        let valueKey: [UInt8] = try Environment(path: valueCopy).read { txn in
            var found: [UInt8]?
            try txn.rawForEach(table: "state_values", from: bigEndian(UInt64.max), reverse: true) { k, _ in
                found = k
                return false
            }
            return try #require(found)
        }
        let valueVersion = valueKey.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        try flipByte(valueCopy, table: "state_values", key: valueKey) { $0 - 1 }
        try flipByte(headerCopy, table: "headers", key: bigEndian(txHeight)) { _ in 20 }
        // The batch that holds the transaction's block: a damaged frame of a batch of empty blocks
        // is indistinguishable, without the L1, from an undecodable blob derived as empty blocks.
        let batchSeq: UInt64 = try Environment(path: batchCopy).read { txn in
            var found: UInt64?
            try txn.rawForEach(table: "batches", from: nil, reverse: false) { k, v in
                let header = try PostedBatch(canonicalBytes: v).header
                guard header.firstHeight <= txHeight, txHeight <= header.lastHeight else { return true }
                found = k.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return false
            }
            return try #require(found, "no batch holds block \(txHeight)")
        }
        try flipByte(batchCopy, table: "batches", key: bigEndian(batchSeq)) { $0 / 2 + 30 }
        let expectations = [
            (valueCopy, "state value \(valueVersion):0x"), (headerCopy, "header \(txHeight) is damaged"),
            (batchCopy, "batch \(batchSeq) ("),
        ]
        // And on the L1 store: a flipped byte of a blob's frame.
        let blobCopy = dir.appending("tampered-l1")
        try copyStore(l1Store, blobCopy)
        try flipByte(blobCopy, table: "blobs", key: [0, 0, 0, 1] + bigEndian(1)) { $0 - 10 }
        let l1Tampered = try TributaryBinary.run(["db", "verify", "--datadir", blobCopy])
        #expect(l1Tampered.status == 1, "\(l1Tampered.output)")
        #expect(l1Tampered.output.hasPrefix("FAILED: blob 1:1 is damaged"), "\(l1Tampered.output)")
        for (copy, text) in expectations {
            let result = try TributaryBinary.run(["db", "verify", "--datadir", copy, "--genesis", genesis])
            #expect(result.status == 1, "\(copy): \(result.output)")
            #expect(result.output.hasPrefix("FAILED: \(text)"), "\(copy): \(result.output)")
        }
    }

    /// A snapshot taken while alpha produces blocks verifies; restored elsewhere, a node started on
    /// it catches up from the L1 and matches alpha's root; a tampered snapshot fails verify; replay
    /// from genesis via the L1 and via alpha's store, and from the snapshot, reach alpha's roots.
    @Test func snapshotRestoreAndReplayReachTheLiveNodesRoots() async throws {
        let dir = try TemporaryDirectory("op-snapshot")
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        defer { alphaNode.stop() }
        let alpha = RPCClient(url: alphaNode.url)
        let l1 = L1Client(url: l1Node.url)
        var nonces: [Int: UInt64] = [:]
        _ = try await sendTransfers(alpha, count: 150, seed: 11, nonces: &nonces)
        #expect(try await eventually(30) { (try await l1.status().rollup(RollupID(1))?.daHeight ?? 0) >= 15 })

        // Snapshot while alpha keeps producing blocks (and more transfers arrive).
        let sent = nonces
        let sending = Task {
            var more = sent
            return try await sendTransfers(alpha, count: 150, seed: 12, nonces: &more)
        }
        let file = dir.appending("alpha.snap")
        let created = try tributaryJSON([
            "snapshot", "create", "--datadir", dir.appending("alpha"), "--out", file, "--genesis", genesis,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let snapHeight = try #require(created.json?["height"]?.unsignedValue)
        let snapRoot = try #require(created.json?["stateRoot"]?.stringValue)
        _ = try await sending.value
        #expect(try await header(alpha, snapHeight)["stateRoot"]?.stringValue == snapRoot)
        #expect((try await alpha.call(RollupMethod.blockNumber).unsignedValue ?? 0) > snapHeight)
        let verified = try TributaryBinary.run(["snapshot", "verify", file, "--genesis", genesis])
        #expect(verified.status == 0, "\(verified.output) \(verified.stderr)")
        #expect(verified.output.hasPrefix("ok: alpha at height \(snapHeight)"), "\(verified.output)")
        // Checked against the L1 once the L1 carries its head: it is a prefix of the L1's chain.
        #expect(try await eventually(30) { (try await l1.status().rollup(RollupID(1))?.daHeight ?? 0) >= snapHeight })
        let checked = try TributaryBinary.run(["snapshot", "verify", file, "--genesis", genesis, "--l1", l1Node.url])
        #expect(checked.status == 0, "\(checked.output) \(checked.stderr)")
        #expect(checked.output.contains("matches the L1"), "\(checked.output)")

        // A tampered snapshot fails verify.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x40
        let tampered = dir.appending("tampered.snap")
        try Data(bytes).write(to: URL(fileURLWithPath: tampered))
        let bad = try TributaryBinary.run(["snapshot", "verify", tampered, "--genesis", genesis])
        #expect(bad.status == 1, "\(bad.output)")
        #expect(bad.output.hasPrefix("FAILED: "), "\(bad.output)")

        // Restore elsewhere; a follower started on it catches up from the L1 and matches alpha.
        let restoredDir = dir.appending("restored")
        let restored = try TributaryBinary.run(["snapshot", "restore", file, "--datadir", restoredDir])
        #expect(restored.status == 0, "\(restored.stderr)")
        let refused = try TributaryBinary.run(["snapshot", "restore", file, "--datadir", restoredDir])
        #expect(refused.status != 0 && refused.stderr.contains("not empty"))
        let followerNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "restored", follow: true)
        defer { followerNode.stop() }
        let follower = RPCClient(url: followerNode.url)
        var target: UInt64 = 0
        #expect(
            try await eventually(60) {
                target = try await l1.status().rollup(RollupID(1))?.daHeight ?? 0
                guard target > snapHeight + 5 else { return false }
                let followed = try await follower.call(RollupMethod.blockNumber).unsignedValue ?? 0
                return followed >= target
            })
        #expect(try await header(follower, target)["stateRoot"] == header(alpha, target)["stateRoot"])
        #expect(try await header(follower, target)["hash"] == header(alpha, target)["hash"])
        #expect(followerNode.stop() == 0)

        // Replay to `target`: from genesis via the L1 and via alpha's live store, from the snapshot via the L1.
        let expected = try await header(alpha, target)
        let runs: [(String, [String])] = [
            ("l1", ["--from-genesis", "--source", "l1", "--l1", l1Node.url, "--rollup", "alpha"]),
            ("store", ["--from-genesis", "--source", "store", "--store", dir.appending("alpha")]),
            ("snapshot", ["--from-snapshot", file, "--source", "l1", "--l1", l1Node.url]),
        ]
        for (name, arguments) in runs {
            let result = try TributaryBinary.run(
                ["replay", "--datadir", dir.appending("replay-\(name)"), "--to", "\(target)", "--genesis", genesis]
                    + arguments + ["--json"])
            #expect(result.status == 0, "\(name): \(result.output) \(result.stderr)")
            let json = try? JSONValue.parse(Data(result.stdout))
            #expect(json?["head"]?.unsignedValue == target, "\(name)")
            #expect(json?["stateRoot"] == expected["stateRoot"], "\(name)")
            #expect(json?["headHash"] == expected["hash"], "\(name)")
        }
        // Not a terminal: progress comes as plain lines with rates.
        let plain = try TributaryBinary.run([
            "replay", "--datadir", dir.appending("replay-plain"), "--to", "\(target)", "--genesis", genesis,
            "--from-genesis", "--source", "store", "--store", dir.appending("alpha"),
        ])
        #expect(plain.status == 0)
        #expect(plain.stderr.contains("replay: ") && plain.stderr.contains("blocks/s"), "\(plain.stderr)")
        #expect(!plain.stderr.contains("\u{1B}["))
        // On a terminal (a pseudo-terminal from `script`): one line redrawn in place, with rates and ETA.
        let tty = try Command.run(
            "script",
            [
                "-qec",
                "\(TributaryBinary.path) replay --datadir \(dir.appending("replay-tty")) --to \(target) --genesis \(genesis) --from-genesis --source store --store \(dir.appending("alpha"))",
                "/dev/null",
            ])
        #expect(tty.status == 0, "\(tty.output)")
        #expect(tty.output.contains("\r\u{1B}[Kreplay: "), "\(tty.output)")
        #expect(tty.output.contains("txs/s") && tty.output.contains("ETA"), "\(tty.output)")
        #expect(plain.output.contains("state root \(expected["stateRoot"]?.stringValue ?? "?")"), "\(plain.output)")

        // A sequencer restored from the snapshot (alpha stopped) syncs from the L1, then its batcher
        // resumes at the L1's next sequence number: new blobs are accepted, none conflicts.
        #expect(alphaNode.stop() == 0)
        let before = try #require(try await l1.status().rollup(RollupID(1)))
        _ = try TributaryBinary.run(["snapshot", "restore", file, "--datadir", dir.appending("restored-seq")])
        let sequencerNode = try startRollup(dir, genesis: genesis, l1: l1Node.url, name: "restored-seq")
        defer { sequencerNode.stop() }
        let sequencer = RPCClient(url: sequencerNode.url)
        let stopped = try tributaryJSON(["db", "header", "\(before.daHeight)", "--datadir", dir.appending("alpha")])
        #expect(try await header(sequencer, before.daHeight)["hash"] == stopped.json?["hash"])
        let fresh = signedTransfer(DevKeys.account(8), nonce: 0, to: DevKeys.account(9).address, amount: 5)
        _ = try await sequencer.call(RollupMethod.sendTransaction, [hexParam(fresh)])
        var included: UInt64 = 0
        #expect(
            try await eventually(30) {
                let r = try await sequencer.call(RollupMethod.getReceipt, [.string(fresh.id.hex)])
                included = r["blockHeight"]?.unsignedValue ?? 0
                return r["success"]?.boolValue == true
            })
        #expect(
            try await eventually(30) {
                let now = try await l1.status().rollup(RollupID(1))
                return (now?.nextSeq ?? 0) > before.nextSeq
                    && (now?.daHeight ?? 0) >= max(included, before.daHeight + 1)
            })
        #expect(sequencerNode.stop() == 0)
        let log = (try? String(contentsOfFile: dir.appending("restored-seq.log"), encoding: .utf8)) ?? ""
        #expect(!log.contains("batch post failed"), "\(log.suffix(2000))")
    }
}

/// Issue 22 finding 4: a store of another chain with the same genesis (a standalone sequencer's
/// fork of alpha) is refused by `snapshot verify --l1`, `snapshot restore --l1` and, restored without
/// the check, by node start-up as a follower and as a sequencer; `db check-l1` names the block.
@Suite struct ForkSnapshotTests {
    @Test func aForkSnapshotIsRefusedByRestoreAndByNodeStartUp() async throws {
        let dir = try TemporaryDirectory("fork-snapshot")
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let alphaNode = try startRollup(dir, genesis: genesis, l1: l1Node.url)
        defer { alphaNode.stop() }
        let l1 = L1Client(url: l1Node.url)
        // The fork: alpha's genesis, blocks sealed by a standalone sequencer that never saw the L1.
        let forkNode = try NodeProcess(
            [
                "node", "--genesis", genesis, "--rollup", "alpha", "--datadir", dir.appending("fork"), "--rpc-port",
                "0", "--standalone",
            ], logPath: dir.appending("fork.log"))
        let fork = RPCClient(url: forkNode.url)
        #expect(try await eventually(30) { (try await fork.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= 8 })
        #expect(forkNode.stop() == 0)
        let file = dir.appending("fork.snap")
        let created = try tributaryJSON([
            "snapshot", "create", "--datadir", dir.appending("fork"), "--out", file, "--genesis", genesis,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let forkHead = try #require(created.json?["height"]?.unsignedValue)
        #expect(try await eventually(60) { (try await l1.status().rollup(RollupID(1))?.daHeight ?? 0) >= forkHead + 5 })
        // On its own the snapshot is sound: the L1 is what it disagrees with.
        let alone = try TributaryBinary.run(["snapshot", "verify", file, "--genesis", genesis])
        #expect(alone.status == 0, "\(alone.output)")
        let verified = try TributaryBinary.run(["snapshot", "verify", file, "--genesis", genesis, "--l1", l1Node.url])
        #expect(verified.status == 1, "\(verified.output)")
        #expect(
            verified.output.hasPrefix("FAILED: the snapshot diverges from the L1: block \(forkHead) differs"),
            "\(verified.output)")
        let refused = dir.appending("refused")
        let restore = try TributaryBinary.run(["snapshot", "restore", file, "--datadir", refused, "--l1", l1Node.url])
        #expect(restore.status == 1, "\(restore.output)")
        #expect(restore.stderr.contains("diverges from the L1, nothing restored"), "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: refused + "/data.mdb"))
        // Restored without the check: the operator command and node start-up both refuse it.
        let unchecked = dir.appending("unchecked")
        #expect(try TributaryBinary.run(["snapshot", "restore", file, "--datadir", unchecked]).status == 0)
        let check = try TributaryBinary.run(["db", "check-l1", "--datadir", unchecked, "--l1", l1Node.url])
        #expect(check.status == 1)
        #expect(check.output.hasPrefix("DIVERGES: block \(forkHead) differs"), "\(check.output)")
        for (name, mode) in [("follower", "--follow"), ("sequencer", "--rollup")] {
            let log = dir.appending("\(name)-on-fork.log")
            #expect(throws: NodeProcess.NodeProcessError.self, "\(name)") {
                let node = try NodeProcess(
                    [
                        "node", "--genesis", genesis, mode, "alpha", "--datadir", unchecked, "--rpc-port", "0",
                        "--l1", l1Node.url,
                    ], logPath: log, timeout: 30)
                node.stop()
            }
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(text.contains("diverges from the L1"), "\(name): \(text.suffix(600))")
        }
        // The real chain's store passes the same check.
        let real = try TributaryBinary.run(
            ["db", "check-l1", "--datadir", dir.appending("alpha"), "--l1", l1Node.url, "--sequencer"])
        #expect(real.status == 0, "\(real.output) \(real.stderr)")
        #expect(alphaNode.stop() == 0)
    }
}

/// Snapshot files whose data frame would write more than they declare, or whose declaration the file
/// cannot back: `tributary snapshot restore` and `verify` refuse each before writing past the declared
/// size (the process runs under `ulimit -f` of that size: a write past it would kill it), name the
/// reason, and leave no store behind.
@Suite struct SnapshotBombTests {
    let genesis = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Genesis/devnet.json").path

    /// A real snapshot's manifest (as JSON) of a store at genesis.
    func realManifest(_ dir: TemporaryDirectory) throws -> JSONValue {
        let store = dir.appending("store")
        do {
            let loaded = try Genesis.load(path: genesis)
            _ = try ChainStore(datadir: store, rollup: try #require(loaded.rollup(named: "alpha")), network: Network(loaded))
        }
        let file = dir.appending("real.snap")
        let created = try TributaryBinary.run(
            ["snapshot", "create", "--datadir", store, "--out", file, "--genesis", genesis])
        #expect(created.status == 0, "\(created.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let length = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        let tag = Array("TRIBUTARY-SNAPSHOT\n".utf8)
        return try JSONValue.parse(Data(bytes[(8 + tag.count)..<(8 + length)]))
    }

    /// A snapshot file: `manifest` with its sizes set to `dataBytes` and the frame's length, then `frame`.
    func forge(_ dir: TemporaryDirectory, _ name: String, manifest: JSONValue, dataBytes: UInt64, frame: [UInt8])
        throws -> String
    {
        guard case .object(var json) = manifest, case .object(var data)? = json["data"],
            case .object(var compressed)? = json["compressed"]
        else {
            Issue.record("the manifest is not an object: \(manifest)")
            return ""
        }
        data["bytes"] = .number(dataBytes)
        compressed["bytes"] = .number(UInt64(frame.count))
        json["data"] = .object(data)
        json["compressed"] = .object(compressed)
        let body = Array("TRIBUTARY-SNAPSHOT\n".utf8) + [UInt8](try JSONValue.object(json).serialized())
        var file: [UInt8] = [0x5E, 0x2A, 0x4D, 0x18]
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { file.append(contentsOf: $0) }
        let path = dir.appending(name)
        try Data(file + body + frame).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `tributary arguments` with no file allowed to grow past `limit` bytes.
    func run(_ arguments: [String], limit: Int) throws -> CommandResult {
        try Command.run(
            "/bin/sh", ["-c", "ulimit -f \(limit / 512) && exec \"$0\" \"$@\"", TributaryBinary.path] + arguments)
    }

    @Test func aSnapshotBombIsRefusedBeforeItWritesPastItsDeclaredSize() throws {
        let dir = try TemporaryDirectory("snapshot-bomb")
        let manifest = try realManifest(dir)
        // 256 MiB of zeros compress to a few kilobytes; the header's 4-byte content size is rewritten
        // to declare 1 MiB, the size the manifest declares too.
        let declared: UInt64 = 1 << 20
        var bomb = try Zstd.compress([UInt8](repeating: 0, count: 256 << 20), level: 3)
        let header = try Zstd.frameHeader(bomb)
        #expect(header.contentSize == 256 << 20)
        #expect(bomb[4] >> 6 == 2, "a 4-byte content size field")
        let sizeAt = bomb[4] & 0x20 != 0 ? 5 : 6
        withUnsafeBytes(of: UInt32(declared).littleEndian) { bomb.replaceSubrange(sizeAt..<(sizeAt + 4), with: $0) }
        #expect(try Zstd.frameHeader(bomb).contentSize == declared)
        #expect(bomb.count < 70_000, "\(bomb.count) bytes")
        let file = try forge(dir, "bomb.snap", manifest: manifest, dataBytes: declared, frame: bomb)
        let target = dir.appending("restored")
        let restore = try run(["snapshot", "restore", file, "--datadir", target], limit: Int(declared))
        #expect(restore.status == 1, "status \(restore.status): \(restore.stderr)")
        #expect(restore.stderr.contains("the snapshot is damaged"), "\(restore.stderr)")
        #expect(restore.stderr.contains("decompress"), "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target + "/data.mdb"))
        let verify = try run(["snapshot", "verify", file, "--genesis", genesis], limit: Int(declared))
        #expect(verify.status != 0 && verify.status < 128, "status \(verify.status): \(verify.stderr)")
    }

    @Test func aDataFrameTheFileCannotBackIsRefusedBeforeDecoding() throws {
        let dir = try TemporaryDirectory("snapshot-declared")
        let manifest = try realManifest(dir)
        let payload = [UInt8](repeating: 7, count: 100_000)
        let frame = try Zstd.compress(payload)
        // No content size in the header: `zstd` reading a pipe writes such frames.
        let piped = try Command.run("zstd", ["-q", "-c"], input: payload)
        #expect(piped.status == 0)
        #expect(try Zstd.frameHeader(piped.stdout).contentSize == nil)
        let cases: [(String, String, UInt64, [UInt8], String)] = [
            ("no-size.snap", "no content size", 100_000, piped.stdout, "declares no content size"),
            ("mismatch.snap", "a size other than the manifest's", 50_000, frame, "declares 100000 bytes, the manifest says 50000"),
            ("truncated.snap", "a cut file", 100_000, Array(frame.dropLast(3)), "data frame is"),
        ]
        for (name, what, bytes, body, message) in cases {
            var file = try forge(dir, name, manifest: manifest, dataBytes: bytes, frame: body)
            if name == "truncated.snap" {
                // The manifest says the whole frame; the file holds three bytes less.
                file = try forge(dir, name, manifest: manifest, dataBytes: bytes, frame: frame)
                let handle = try #require(FileHandle(forUpdatingAtPath: file))
                try handle.truncate(atOffset: try handle.seekToEnd() - 3)
                try handle.close()
            }
            let target = dir.appending("restored-" + name)
            let restore = try run(["snapshot", "restore", file, "--datadir", target], limit: 1 << 20)
            #expect(restore.status == 1, "\(what): status \(restore.status)")
            #expect(restore.stderr.contains(message), "\(what): \(restore.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target + "/data.mdb"), "\(what)")
        }
        // A header that declares more than the disk holds: refused before anything is written.
        var huge: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0]
        withUnsafeBytes(of: UInt64(1 << 60).littleEndian) { huge.append(contentsOf: $0) }
        huge += [0x01, 0x00, 0x00]  // one empty raw block, the last
        let tooBig = try forge(dir, "huge.snap", manifest: manifest, dataBytes: 1 << 60, frame: huge)
        let restore = try run(["snapshot", "restore", tooBig, "--datadir", dir.appending("huge")], limit: 1 << 20)
        #expect(restore.status == 1)
        #expect(restore.stderr.contains("bytes free"), "\(restore.stderr)")
    }
}
