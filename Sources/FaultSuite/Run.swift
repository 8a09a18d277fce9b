import API
import Config
import Devnet
import TributaryTesting
import Foundation
import Primitives
import RPC

/// One run of the suite: the devnet, its load, and the phases of faults with their checks.
final class Run: @unchecked Sendable {
    let net: FaultNet
    let seen: Observations
    let checks: Checks
    let watcher: Watcher
    let load: Load
    var rng: SplitMix64
    let crashes: Int
    let disorderSeconds: Int
    /// Alpha's sequencer lies from this height on (the suite's negative control).
    let lieFrom: UInt64?
    /// The rollups under load (gamma is kept for the challenge scenario).
    let loaded = ["alpha", "beta"]
    var tally: Tally { net.tally }

    init(net: FaultNet, seen: Observations, rng: SplitMix64, crashes: Int, disorderSeconds: Int, lieFrom: UInt64?) {
        self.lieFrom = lieFrom
        self.net = net
        self.seen = seen
        self.rng = rng
        self.crashes = crashes
        self.disorderSeconds = disorderSeconds
        checks = Checks(net: net, seen: seen)
        watcher = Watcher(net: net, seen: seen)
        load = Load(net: net)
    }

    func sleep(ms: Int) async { try? await Task.sleep(for: .milliseconds(ms)) }

    func random(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    func setUp() async throws {
        try net.start("l1")
        for r in loaded {
            try net.start(r, extra: r == "alpha" ? lieFrom.map { ["--fault", "state-root-at=\($0)"] } ?? [] : [])
        }
        try net.start("alpha-follower")
        watcher.watchL1()
        for r in loaded { watcher.watch(r) }
        load.start(rollups: loaded, transferIntervalMs: 100, messageIntervalMs: 1500)
        tally.log("devnet up: l1, \(loaded.joined(separator: ", ")), alpha-follower; load running")
        await sleep(ms: 5000)
    }

    /// Restarts `name`, retrying once; a process that cannot start is a violation.
    func restart(_ name: String) async {
        for attempt in 1...2 {
            do {
                try net.start(name)
                return
            } catch {
                if attempt == 2 { await tally.violate("\(name) did not restart: \(error)") }
                await sleep(ms: 1000)
            }
        }
    }

    /// What must hold after `name` was killed and restarted.
    func checkRestarted(_ name: String) async {
        if name == "l1" {
            await checks.l1KeptEverything()
        } else if name.hasSuffix("-follower") {
            await checks.followerAgrees(String(name.dropLast(9)))
        } else {
            await checks.sequencerKeptEverything(name, rng: &rng)
        }
        await net.verifyStore(name)
        for r in loaded { await checks.nativeConservedAtHome(r) }
        await checks.nobodyDied()
    }

    // MARK: Crashes

    func crashPhase() async {
        tally.log("crash phase: \(crashes) × SIGKILL of the L1, a sequencer or a follower under load")
        let victims = ["l1", "alpha", "beta", "alpha-follower"]
        let every = max(4, crashes / 5)
        for i in 0..<crashes {
            let victim = victims[Int(rng.next() % UInt64(victims.count))]
            let wait = random(300...2500)
            await sleep(ms: wait)
            let kind = victim == "l1" ? "L1" : victim.hasSuffix("-follower") ? "follower" : "sequencer"
            await tally.inject("kill -9 \(kind)", "kill -9 \(victim) (\(i + 1)/\(crashes)), \(wait) ms into its run")
            net.kill(victim)
            await sleep(ms: random(0...700))
            await restart(victim)
            await checkRestarted(victim)
            if (i + 1) % every == 0, i + 1 < crashes { await checkpoint("after \(i + 1) crashes") }
        }
        await checkpoint("end of the crash phase")
    }

    // MARK: Outages

    func outagePhase() async {
        await l1Outage()
        await peerOutage()
        await followerRestartedMidChallenge()
    }

    func heads() async -> [String: UInt64] {
        var heads: [String: UInt64] = [:]
        for r in loaded { heads[r] = (try? await net.rpc(r).call(RollupMethod.blockNumber).unsignedValue) ?? 0 }
        return heads
    }

    /// The L1 down for twice the fraud-proof window: rollups keep sequencing, their batches post
    /// once it is back, and no output finalizes wrongly.
    func l1Outage() async {
        let downMs = Int(net.timing.windowBlocks) * net.timing.l1BlockTimeMs * 2
        let before = await heads()
        await tally.inject("L1 outage", "kill -9 l1 and keep it down \(downMs) ms (twice the fraud-proof window)")
        net.kill("l1")
        await sleep(ms: downMs)
        let during = await heads()
        for r in loaded {
            await tally.check(
                during[r]! > before[r]! + 5,
                "\(r) stopped sequencing while the L1 was down (\(before[r]!) → \(during[r]!))")
        }
        await restart("l1")
        await checks.l1KeptEverything()
        for r in loaded {
            var da: UInt64 = 0
            let posted = await eventually(60) {
                da = await checks.daHeight(r) ?? 0
                return da >= during[r]!
            }
            await tally.check(
                posted,
                "\(r)'s blocks made during the outage (to \(during[r]!)) were not posted after it (DA height \(da))")
        }
        await checkpoint("after the L1 outage")
    }

    /// A source rollup down after its messages reached an output: the destination relays them
    /// from the source's blobs on the L1.
    func peerOutage() async {
        load.isPaused = true
        let key = DevKeys.account(6)
        let beta = net.rpc("beta"), alpha = net.rollup("alpha")
        var ids: [String] = []
        do {
            var nonce =
                try await beta.call(RollupMethod.getNonce, [.string(key.address.hex)])["pending"]?.unsignedValue ?? 0
            var txs: [Hash] = []
            for i in 0..<3 {
                let tx = Transaction(
                    rollup: net.rollup("beta").id, nonce: nonce, sender: key.publicKey, fee: 1_000,
                    call: .sendMessage(
                        destination: alpha.id, target: "bank", recipient: DevKeys.account(9).address,
                        value: [AssetAmount(net.rollup("beta").nativeAsset, UInt64(100 + i))], payload: [])
                ).signed(by: key)
                _ = try await beta.call(RollupMethod.sendTransaction, [.string("0x" + Hex.encode(tx.canonicalBytes))])
                txs.append(tx.id)
                nonce += 1
            }
            for tx in txs {
                var id: String?
                _ = await eventually(20) {
                    id = try? await beta.call(RollupMethod.getReceipt, [.string(tx.hex)])["message"]?.stringValue
                    return id != nil
                }
                if let id { ids.append(id) } else { await tally.violate("beta never included message send \(tx.hex)") }
            }
            let inOutput = await eventually(60) {
                for id in ids {
                    let status = try? await beta.call(RollupMethod.getMessageStatus, [.string(id)])["status"]?.stringValue
                    guard let status, status != "sent" else { return false }
                }
                return true
            }
            await tally.check(inOutput, "beta's messages did not reach an output on the L1 in 60 s")
        } catch {
            await tally.violate("could not send beta's messages: \(error)")
        }
        await tally.inject("peer rollup outage", "kill -9 beta with \(ids.count) messages to alpha in an output")
        net.kill("beta")
        let alphaRPC = net.rpc("alpha")
        var missing = ids
        _ = await eventually(Double(net.timing.windowBlocks * net.timing.l1BlockTimeMs) / 1000 + 60) {
            var still: [String] = []
            for id in missing {
                let relay = try? await alphaRPC.call(RollupMethod.getRelay, [.string(id)])
                if relay == nil || relay == .null { still.append(id) }
            }
            missing = still
            return missing.isEmpty
        }
        for id in ids {
            await tally.check(!missing.contains(id), "alpha did not relay \(id) from beta's blobs while beta was down")
        }
        await restart("beta")
        await checks.sequencerKeptEverything("beta", rng: &rng)
        load.isPaused = false
        await checkpoint("after the peer outage")
    }

    /// A follower SIGKILLed as soon as a false output appears, and restarted: its challenge still
    /// lands inside the window, and the false output never finalizes.
    func followerRestartedMidChallenge() async {
        let faultAt: UInt64 = 30
        do {
            try net.start("gamma", extra: ["--fault", "state-root-at=\(faultAt)"])
            try net.start("gamma-follower")
        } catch {
            await tally.violate("could not start gamma and its follower: \(error)")
            return
        }
        func outputs() async -> [L1Output] { (try? await net.l1.outputs(rollup: net.rollup("gamma").id)) ?? [] }
        var falseOutput: L1Output?
        let appeared = await eventually(60) {
            falseOutput = await outputs().first { $0.output.l2Height >= faultAt }
            return falseOutput != nil
        }
        await tally.check(appeared, "gamma (lying from height \(faultAt)) proposed no output above it in 60 s")
        guard appeared, let output = falseOutput else { return }
        let index = output.index
        net.kill("gamma-follower")
        let already = output.status == .invalidated
        await tally.inject(
            "follower killed mid-challenge",
            "kill -9 gamma-follower as false output \(index) (height \(output.output.l2Height)) appeared"
                + (already ? " (already challenged)" : ""))
        await sleep(ms: random(100...600))
        await restart("gamma-follower")
        var now: L1Output?
        let invalidated = await eventually(
            Double(net.timing.windowBlocks * net.timing.l1BlockTimeMs) / 1000 + 30
        ) {
            now = await outputs().first { $0.index == index }
            return now?.status == .invalidated
        }
        await tally.check(
            invalidated, "false output \(index) of gamma is \(now.map { $0.status.rawValue } ?? "-"), not invalidated")
        if let at = now?.invalidatedAt {
            await tally.check(
                at <= output.windowEnd,
                "gamma's output \(index) was invalidated at L1 \(at), after its window ended at \(output.windowEnd)")
        }
        for row in await outputs() where row.output.l2Height >= faultAt {
            await tally.check(
                row.status != .finalized || row.proposer != output.proposer, "gamma's false output \(row.index) finalized")
        }
        // The liar stops first; its follower stays until none of its outputs is pending, so no false
        // output it proposed meanwhile finalizes unwatched.
        let liar = net.stop("gamma")
        await tally.check(liar == 0, "gamma did not stop cleanly on SIGTERM (status \(liar.map(String.init) ?? "-"))")
        let settled = await eventually(
            Double(net.timing.windowBlocks * net.timing.l1BlockTimeMs) / 1000 + 30
        ) {
            await outputs().allSatisfy { $0.status != .pending }
        }
        await tally.check(settled, "gamma still has pending outputs a window after it stopped")
        for row in await outputs() where row.output.l2Height >= faultAt {
            await tally.check(
                row.status != .finalized || row.proposer != output.proposer, "gamma's false output \(row.index) finalized")
        }
        let follower = net.stop("gamma-follower")
        await tally.check(
            follower == 0, "gamma-follower did not stop cleanly on SIGTERM (status \(follower.map(String.init) ?? "-"))")
    }

    // MARK: Disorder

    /// Every call between processes delayed, duplicated and replayed for a while.
    func disorderPhase() async {
        tally.log("disorder phase: \(disorderSeconds) s of delayed, duplicated and replayed calls between processes")
        for proxy in net.proxies.values { proxy.set { $0.enabled = true } }
        await sleep(ms: disorderSeconds * 1000)
        for proxy in net.proxies.values { proxy.set { $0.enabled = false } }
        for proxy in net.proxies.values.sorted(by: { $0.name < $1.name }) {
            for (kind, count) in proxy.takeCounts() { await tally.inject(kind, count: count) }
        }
        await checks.nobodyDied()
        await checkpoint("after the disorder")
        for r in loaded { await checks.blobsInOrder(r) }
    }

    // MARK: Storage running out

    /// A second follower of alpha whose store is held to 1 MiB — by its map cap, then by the file-size
    /// limit (`ulimit -f`) — derives until the store is full: it must stop by itself with status 74 and
    /// one critical line naming the problem, leave a store that verifies, and, restarted without the
    /// limit, go on from where it stopped and agree with the sequencer.
    func diskPhase() async {
        let cases: [(name: String, label: String, extra: [String], fileSizeLimit: Int?)] = [
            ("alpha-follower-capped", "--max-map-size 1M", ["--max-map-size", "1M"], nil),
            ("alpha-follower-ulimit", "ulimit -f of 1 MiB", [], 1 << 20),
        ]
        for c in cases {
            await tally.inject("storage full", "a follower of alpha whose store can hold 1 MiB (\(c.label))")
            let log = "\(net.dir)/\(c.name)-full.log"
            let status: Int32?
            do {
                status = try await net.runUntilExit(
                    [
                        "node", "--genesis", net.genesisPath, "--follow", "alpha", "--datadir", net.datadir(c.name),
                        "--rpc-port", "0",
                    ] + c.extra, fileSizeLimit: c.fileSizeLimit, logPath: log, timeout: 180)
            } catch {
                await tally.violate("could not start \(c.name): \(error)")
                continue
            }
            await tally.check(
                status == 74,
                "\(c.name) (\(c.label)) ended with \(status.map { "status \($0)" } ?? "no exit in 180 s"), not 74")
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            let critical = lines.filter { $0.contains(" critical ") }
            await tally.check(
                critical.count == 1 && critical[0].contains("storage full"),
                "\(c.name) (\(c.label)) logged \(critical.count) critical lines: \(critical.joined(separator: " / ").prefix(400))"
            )
            await net.verifyStore(c.name)
            do { try net.start(c.name) } catch {
                await tally.violate("\(c.name) did not restart without its limit: \(error)")
                continue
            }
            await checks.followerAgrees("alpha", follower: c.name)
            await net.verifyStore(c.name)
            let stopped = net.stop(c.name)
            await tally.check(
                stopped == 0, "\(c.name) did not stop cleanly on SIGTERM (status \(stopped.map(String.init) ?? "-"))")
        }
    }

    // MARK: Checkpoints

    /// The load paused until every sent transaction and message has settled, then every invariant.
    func checkpoint(_ label: String) async {
        tally.log("checkpoint (\(label)): settling")
        load.isPaused = true
        defer { load.isPaused = false }
        for r in loaded {
            let drained = await eventually(60) {
                (try? await net.rpc(r).call(RollupMethod.status)["mempool"]?.unsignedValue) == 0
            }
            if !drained {
                // Name the senders whose transactions are stuck.
                var stuck: [String] = []
                let keys =
                    (0..<10).map { ("dev\($0)", DevKeys.account($0).address) }
                    + [("treasury", net.rollup(r).treasury.publicKey.address)]
                for (name, address) in keys {
                    let n = try? await net.rpc(r).call(RollupMethod.getNonce, [.string(address.hex)])
                    if let n, n["pending"] != n["nonce"] { stuck.append("\(name) \(n)") }
                }
                await tally.violate("\(r)'s mempool did not drain in 60 s: \(stuck.joined(separator: "; "))")
            }
            let head = (try? await net.rpc(r).call(RollupMethod.blockNumber).unsignedValue) ?? 0
            _ = await eventually(30) { (await seen.head[r] ?? 0) >= head }
        }
        await checks.messagesRelayed(within: Double(net.timing.windowBlocks * net.timing.l1BlockTimeMs) / 1000 + 90)
        await checks.valueConserved(among: loaded)
        for r in loaded { await checks.outputsHonest(r) }
        await checks.followerAgrees("alpha")
        for name in net.names { await net.verifyStore(name) }
        await checks.nobodyDied()
        let counts = await (seen.included.count, seen.messages.count)
        tally.log(
            "checkpoint (\(label)): \(counts.0) transactions and \(counts.1) messages acknowledged so far, "
                + "\(await tally.checked) checks, \(await tally.violations.count) violations")
    }

    func finish() async {
        load.stop()
        await checkpoint("final")
        for name in net.names {
            let status = net.stop(name)
            await tally.check(
                status == 0, "\(name) did not stop cleanly on SIGTERM (status \(status.map(String.init) ?? "-"))")
        }
        for name in ["l1", "alpha", "beta", "alpha-follower"] { await net.verifyStore(name) }
    }

    func tearDown() {
        watcher.cancel()
        load.stop()
        net.stopAll()
    }
}
