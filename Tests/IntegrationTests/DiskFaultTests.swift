import API
import Chain
import Compression
import Config
import Foundation
import L1
import L1Chain
import Node
import Primitives
import RPC
import Settlement
import Storage
import Testing
import TributaryTesting

/// The node's critical lines (swift-log's stream format names the level after the timestamp).
func criticalLines(_ logPath: String) throws -> [String] {
    try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map(String.init)
        .filter { $0.contains(" critical ") }
}

/// Sends transfers from dev0…dev3 to `rpc` until `node` exits by itself (or `seconds` pass), polling receipts as it
/// goes. Returns every receipt the node returned — transaction id and block height — and the exit status (nil: it
/// never stopped).
func transferUntilStopped(_ node: NodeProcess, seconds: Double) async throws -> (
    receipts: [Hash: UInt64], status: Int32?
) {
    // A stopped node refuses connections; the HTTP client retries them until the request times out.
    var rpc = RPCClient(url: node.url)
    rpc.timeout = .seconds(5)
    var rng = SplitMix64(seed: 74)
    var nonces: [Int: UInt64] = [:]
    var waiting: [Hash] = []
    var receipts: [Hash: UInt64] = [:]
    let deadline = Date().addingTimeInterval(seconds)
    while node.process.isRunning, Date() < deadline {
        do {
            waiting += try await sendTransfers(rpc, count: 20, seed: rng.next(), nonces: &nonces)
            var still: [Hash] = []
            for id in waiting {
                let receipt = try await rpc.call(RollupMethod.getReceipt, [.string(id.hex)])
                if let height = receipt["blockHeight"]?.unsignedValue {
                    receipts[id] = height
                } else {
                    still.append(id)
                }
            }
            waiting = still
        } catch {
            // The node is going down: whatever it answered before counts, nothing after.
            break
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    return (receipts, node.waitForExit(timeout: 60))
}

/// Everything a stopped rollup node acknowledged is in its store, the store verifies, and its head is returned.
func checkStore(_ datadir: String, genesis: String, receipts: [Hash: UInt64]) throws -> UInt64 {
    let verify = try TributaryBinary.run(["db", "verify", "--datadir", datadir, "--genesis", genesis])
    #expect(verify.status == 0, "db verify: \(verify.output) \(verify.stderr)")
    let store = try ChainStore.open(datadir: datadir, genesis: try Genesis.load(path: genesis))
    for (id, height) in receipts {
        #expect(try store.location(ofTransaction: id)?.height == height, "transaction \(id) with a receipt")
    }
    let head = try store.head().height
    #expect(receipts.values.allSatisfy { $0 <= head })
    return head
}

/// Restarts alpha on `datadir` without a small cap and shows it carries on from `head`: it takes transfers again and
/// builds blocks above it.
func resumes(_ dir: TemporaryDirectory, genesis: String, l1: String, head: UInt64, log: String) async throws {
    let node = try NodeProcess(
        [
            "node", "--genesis", genesis, "--rollup", "alpha", "--datadir", dir.appending("alpha"), "--rpc-port", "0",
            "--l1", l1, "--max-map-size", "64M",
        ], logPath: dir.appending(log))
    defer { node.stop() }
    let rpc = RPCClient(url: node.url)
    #expect((try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= head)
    let sender = DevKeys.account(7)
    let nonce = try await rpc.call(RollupMethod.getNonce, [.string(sender.address.hex)])["pending"]?.unsignedValue ?? 0
    let tx = signedTransfer(sender, nonce: nonce, to: DevKeys.account(8).address, amount: 9)
    _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
    #expect(
        try await eventually(60) {
            try await rpc.call(RollupMethod.getReceipt, [.string(tx.id.hex)])["success"]?.boolValue == true
        })
    #expect(
        try await eventually(60) { (try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0) > head + 10 })
    #expect(node.stop() == 0)
}

@Suite(.serialized) struct DiskFaultTests {
    /// A rollup node capped at 1 MiB under steady transfers grows its map up to the cap, then stops with status 74
    /// and ONE critical line naming the store, the map and what to do. Its store verifies, holds every transaction
    /// whose receipt it returned, and with a larger cap the node carries on from where it stopped.
    @Test func aRollupNodeAtItsMapCapStopsCleanlyAndResumesWithALargerCap() async throws {
        let dir = try TemporaryDirectory("disk-map")
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let datadir = dir.appending("alpha")
        let node = try NodeProcess(
            [
                "node", "--genesis", genesis, "--rollup", "alpha", "--datadir", datadir, "--rpc-port", "0", "--l1",
                l1Node.url, "--max-map-size", "1M",
            ], logPath: dir.appending("alpha-capped.log"))
        let (receipts, status) = try await transferUntilStopped(node, seconds: 600)
        #expect(status == 74, "the node stops on its own with EX_IOERR")
        #expect(!receipts.isEmpty)
        let log = try String(contentsOfFile: dir.appending("alpha-capped.log"), encoding: .utf8)
        #expect(log.contains("map grown"), "the map grew on its way to the cap")
        let critical = try criticalLines(dir.appending("alpha-capped.log"))
        #expect(critical.count == 1, "\(critical)")
        let line = critical.first ?? ""
        #expect(line.contains("storage full: the store \(datadir) reached its map cap"), "\(line)")
        #expect(line.contains("--max-map-size is 1.0 MiB") && line.contains("free on its file system"), "\(line)")
        #expect(line.contains("restart it with a larger --max-map-size"), "\(line)")
        let head = try checkStore(datadir, genesis: genesis, receipts: receipts)
        #expect(line.contains("after committing height \(head)"), "\(line)")
        try await resumes(dir, genesis: genesis, l1: l1Node.url, head: head, log: "alpha-resumed.log")
        #expect(l1Node.stop() == 0)
    }

    /// A rollup node under `ulimit -f` (1 MiB) fills its data file to the limit: the write fails with EFBIG or a
    /// short write (not SIGXFSZ: the daemon ignores it), the node stops with status 74 and ONE critical line naming
    /// the limit; its store verifies and holds every transaction with a receipt; without the limit it carries on.
    @Test func aRollupNodeAtTheFileSizeLimitStopsCleanlyAndResumes() async throws {
        let dir = try TemporaryDirectory("disk-ulimit")
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let datadir = dir.appending("alpha")
        let node = try NodeProcess(
            [
                "node", "--genesis", genesis, "--rollup", "alpha", "--datadir", datadir, "--rpc-port", "0", "--l1",
                l1Node.url,
            ], logPath: dir.appending("alpha-limited.log"), fileSizeLimit: 1 << 20)
        let (receipts, status) = try await transferUntilStopped(node, seconds: 600)
        #expect(status == 74, "the node stops on its own with EX_IOERR, not killed by SIGXFSZ")
        #expect(!receipts.isEmpty)
        let critical = try criticalLines(dir.appending("alpha-limited.log"))
        #expect(critical.count == 1, "\(critical)")
        let line = critical.first ?? ""
        #expect(
            line.contains(
                "storage full: cannot write to the store \(datadir): its data file reached this process's "
                    + "file-size limit of 1.0 MiB (ulimit -f"), "\(line)")
        #expect(line.contains("raise or lift the limit"), "\(line)")
        let size = try FileManager.default.attributesOfItem(atPath: datadir + "/data.mdb")[.size] as? Int
        #expect(size.map { $0 <= 1 << 20 } == true)
        let head = try checkStore(datadir, genesis: genesis, receipts: receipts)
        try await resumes(dir, genesis: genesis, l1: l1Node.url, head: head, log: "alpha-resumed.log")
        #expect(l1Node.stop() == 0)
    }

    /// An L1 capped at 512 KiB, fed 40 KiB blobs, stops with status 74 and ONE critical line once its map is full.
    /// It answered every accepted blob only after committing it: the store holds exactly the acknowledged blobs (the
    /// one it could not commit is not there), verifies, and with a larger cap the L1 takes that blob and goes on.
    @Test func anL1AtItsMapCapStopsCleanlyAndResumesWithALargerCap() async throws {
        let dir = try TemporaryDirectory("disk-l1")
        let genesisPath = try fastGenesis(dir)
        let genesis = try Genesis.load(path: genesisPath)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        let batcher = DevKeys.key(named: alpha.batcher.name)
        let datadir = dir.appending("l1")
        func start(cap: String, log: String) throws -> NodeProcess {
            try NodeProcess(
                ["l1", "--genesis", genesisPath, "--datadir", datadir, "--rpc-port", "0", "--max-map-size", cap],
                logPath: dir.appending(log))
        }
        let capped = try start(cap: "512K", log: "l1-capped.log")
        let l1 = L1Client(url: capped.url)
        var rng = SplitMix64(seed: 40)
        var acknowledged: [(post: BlobPost, l1Height: UInt64)] = []
        var refused: BlobPost?
        while refused == nil, acknowledged.count < 100 {
            let seq = UInt64(acknowledged.count)
            let post = BlobPost(
                header: BatchHeader(rollup: alpha.id, seq: seq, firstHeight: seq + 1, lastHeight: seq + 1),
                frame: try Zstd.compress(rng.bytes(40 << 10)), signedBy: batcher)
            do {
                let result = try await l1.postBlob(post)
                acknowledged.append((post, result.l1Height))
            } catch {
                refused = post
            }
        }
        let status = capped.waitForExit(timeout: 60)
        #expect(status == 74, "the L1 stops on its own with EX_IOERR")
        let unposted = try #require(refused, "the L1 took 100 blobs of 40 KiB into 512 KiB")
        let critical = try criticalLines(dir.appending("l1-capped.log"))
        #expect(critical.count == 1, "\(critical)")
        let line = critical.first ?? ""
        #expect(line.contains("storage full: the store \(datadir) reached its map cap"), "\(line)")
        #expect(line.contains("The L1 node stopped after committing height"), "\(line)")

        let verify = try TributaryBinary.run(["db", "verify", "--datadir", datadir, "--genesis", genesisPath])
        #expect(verify.status == 0, "db verify: \(verify.output) \(verify.stderr)")
        var readOnly = Environment.Options()
        readOnly.readOnly = true
        let head: UInt64
        do {
            let store = try L1Store(datadir: datadir, genesis: genesis, options: readOnly)
            for (post, l1Height) in acknowledged {
                let record = try store.blob(rollup: alpha.id, seq: post.header.seq)
                #expect(
                    record?.commitment == post.commitment && record?.l1Height == l1Height, "blob \(post.header.seq)")
            }
            #expect(try store.blob(rollup: alpha.id, seq: unposted.header.seq) == nil, "the unacknowledged blob")
            #expect(try store.rollupState(alpha.id)?.nextSeq == UInt64(acknowledged.count))
            head = try store.head().height
        }
        #expect(line.contains("after committing height \(head)"), "\(line)")

        let resumed = try start(cap: "64M", log: "l1-resumed.log")
        defer { resumed.stop() }
        let again = L1Client(url: resumed.url)
        let accepted = try await again.postBlob(unposted)
        #expect(!accepted.duplicate && accepted.l1Height > head)
        #expect(try await eventually(30) { try await again.status().height > accepted.l1Height + 5 })
        #expect(resumed.stop() == 0)
        let final = try TributaryBinary.run(["db", "verify", "--datadir", datadir, "--genesis", genesisPath])
        #expect(final.status == 0, "db verify: \(final.output) \(final.stderr)")
    }

    /// A rollup node on a 2 MiB tmpfs fills it: the write fails with ENOSPC (or LMDB's short-write EIO with the disk
    /// full), the node stops with status 74 and ONE critical line saying the file system is full; its store verifies
    /// and holds every transaction with a receipt; once the file system has room again the node carries on. Needs
    /// root (mount); elsewhere the file-size-limit test above shows the same path unprivileged.
    @Test func aRollupNodeOnAFullDiskStopsCleanlyAndResumesWhenThereIsRoom() async throws {
        let dir = try TemporaryDirectory("disk-full")
        let disk = dir.appending("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        // Only where this process may mount a file system: nothing to show elsewhere.
        guard try Command.run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk]).status == 0 else { return }
        defer { _ = try? Command.run("umount", [disk]) }
        let genesis = try fastGenesis(dir)
        let l1Node = try startL1(dir, genesis: genesis)
        defer { l1Node.stop() }
        let datadir = disk + "/alpha"
        func start(_ log: String) throws -> NodeProcess {
            try NodeProcess(
                [
                    "node", "--genesis", genesis, "--rollup", "alpha", "--datadir", datadir, "--rpc-port", "0", "--l1",
                    l1Node.url,
                ], logPath: dir.appending(log))
        }
        let node = try start("alpha-full.log")
        let (receipts, status) = try await transferUntilStopped(node, seconds: 600)
        #expect(status == 74, "the node stops on its own with EX_IOERR")
        #expect(!receipts.isEmpty)
        let critical = try criticalLines(dir.appending("alpha-full.log"))
        #expect(critical.count == 1, "\(critical)")
        let line = critical.first ?? ""
        #expect(line.contains("storage full: cannot write to the store \(datadir): its file system is full"), "\(line)")
        #expect(line.contains("free disk space"), "\(line)")
        let head = try checkStore(datadir, genesis: genesis, receipts: receipts)
        #expect(line.contains("after committing height \(head)"), "\(line)")

        #expect(try Command.run("mount", ["-o", "remount,size=64m", disk]).status == 0)
        let resumed = try start("alpha-room.log")
        defer { resumed.stop() }
        let rpc = RPCClient(url: resumed.url)
        #expect((try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0) >= head)
        #expect(
            try await eventually(60) { (try await rpc.call(RollupMethod.blockNumber).unsignedValue ?? 0) > head + 10 })
        #expect(resumed.stop() == 0)
        #expect(l1Node.stop() == 0)
    }
}
