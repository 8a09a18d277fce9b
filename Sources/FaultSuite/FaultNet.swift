import Config
import Devnet
import Foundation
import Primitives
import RPC

/// The devnet the suite injects faults into: an L1, three rollups (alpha, beta, gamma) and
/// followers, every process behind its own `ChaosProxy`. The genesis names the proxies, so the
/// processes reach each other only through them; each process listens on a port of its own that
/// stays the same across restarts.
final class FaultNet: @unchecked Sendable {
    struct Timing: Sendable {
        var l1BlockTimeMs = 200
        var windowBlocks = 25
        var rollupBlockTimeMs = 100
        var outputIntervalBlocks = 10
    }

    let dir: String
    let genesisPath: String
    let genesis: Genesis
    let timing: Timing
    let tally: Tally
    /// Proxies by the process they front: `l1`, `alpha`, `beta`, `gamma`.
    private(set) var proxies: [String: ChaosProxy] = [:]
    private var ports: [String: Int] = [:]  // guarded by `lock` once the processes run
    private var running: [String: NodeProcess] = [:]
    private var starts: [String: Int] = [:]
    private var extra: [String: [String]] = [:]
    private let lock = NSLock()

    /// The genesis's rollups, named as `GenesisBuilder` names the first three.
    static let rollupNames = (0..<3).map(GenesisBuilder.name)

    init(dir: String, timing: Timing, seed: UInt64, tally: Tally) throws {
        self.dir = dir
        self.timing = timing
        self.tally = tally
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        // The daemons bind a port of their own at every start (`--rpc-port 0`) and report it; the
        // proxies, which the genesis names, learn it then. Only the proxies' ports are picked ahead.
        var proxyPorts: [String: Int] = [:]
        for name in ["l1"] + Self.rollupNames { proxyPorts[name] = try freePort() }
        // Every node is reached through its proxy: the genesis names the proxies' ports.
        var builder = GenesisBuilder(rollups: Self.rollupNames.count)
        builder.devSeed = nil
        builder.l1.rpc = "http://127.0.0.1:\(proxyPorts["l1"]!)"
        builder.l1.blockTimeMs = timing.l1BlockTimeMs
        builder.l1.fraudWindowBlocks = timing.windowBlocks
        builder.l1.extra["maxBlobBytes"] = .number(1_048_576)
        builder.eachRollup {
            $0.rpc = "http://127.0.0.1:\(proxyPorts[$0.name]!)"
            $0.blockTimeMs = timing.rollupBlockTimeMs
            $0.maxBlockTransactions = 2000
            $0.batchMaxAgeMs = 400
            $0.outputIntervalBlocks = timing.outputIntervalBlocks
        }
        genesisPath = dir + "/genesis.json"
        genesis = try builder.write(to: genesisPath)
        for (i, (name, port)) in proxyPorts.sorted(by: { $0.key < $1.key }).enumerated() {
            let proxy = ChaosProxy(name: name, port: port, seed: seed &+ UInt64(i))
            proxy.start()
            proxies[name] = proxy
        }
    }

    func datadir(_ name: String) -> String { "\(dir)/\(name)" }

    private func arguments(_ name: String) -> [String] {
        var args: [String]
        if name == "l1" {
            args = ["l1", "--genesis", genesisPath, "--datadir", datadir(name)]
        } else if name.contains("-follower") {
            // `<rollup>-follower`, or a second follower such as `alpha-follower-capped`.
            let rollup = String(name.prefix { $0 != "-" })
            args = ["node", "--genesis", genesisPath, "--follow", rollup, "--datadir", datadir(name)]
        } else {
            args = ["node", "--genesis", genesisPath, "--rollup", name, "--datadir", datadir(name)]
        }
        return args + ["--rpc-port", "0"] + (extra[name] ?? [])
    }

    /// Runs `tributary arguments` until it exits by itself — under `ulimit -f` when `fileSizeLimit`
    /// is given — and returns its exit status (nil if it was still running after `timeout` seconds
    /// and had to be killed). Standard error goes to `logPath`.
    func runUntilExit(_ arguments: [String], fileSizeLimit: Int?, logPath: String, timeout: Double) async throws
        -> Int32?
    {
        let process = TributaryBinary.process(arguments, fileSizeLimit: fileSizeLimit)
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        defer { try? log?.close() }
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Starts `name` (`l1`, a rollup's name for its sequencer, `<rollup>-follower[-…]`); `extra`
    /// arguments stay with it across restarts.
    func start(_ name: String, extra more: [String]? = nil) throws {
        let args: [String] = lock.withLock {
            if let more { extra[name] = more }
            starts[name, default: 0] += 1
            return arguments(name)
        }
        let n = lock.withLock { starts[name]! }
        let process = try NodeProcess(args, logPath: "\(dir)/logs/\(name)-\(n).log", timeout: 120)
        guard let port = URL(string: process.url)?.port else {
            process.kill()
            throw FaultNetError("\(name) reported no port in its RPC address \(process.url)")
        }
        lock.withLock {
            ports[name] = port
            running[name] = process
        }
        proxies[name]?.retarget(process.url)
    }

    /// SIGKILL: no cleanup, no flush.
    func kill(_ name: String) {
        let process = lock.withLock { running.removeValue(forKey: name) }
        process?.kill()
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop(_ name: String) -> Int32? {
        let process = lock.withLock { running.removeValue(forKey: name) }
        return process?.stop()
    }

    var names: [String] { lock.withLock { running.keys.sorted() } }

    /// Processes that exited without being told to, with their status.
    func unexpectedExits() -> [(String, Int32)] {
        lock.withLock {
            let dead = running.filter { !$0.value.process.isRunning }
            for name in dead.keys { running.removeValue(forKey: name) }
            return dead.map { ($0.key, $0.value.process.terminationStatus) }.sorted { $0.0 < $1.0 }
        }
    }

    func pid(_ name: String) -> Int32? { lock.withLock { running[name]?.process.processIdentifier } }

    /// A client of `name`'s own port (not through its proxy).
    func rpc(_ name: String) -> RPCClient {
        var client = RPCClient(url: "http://127.0.0.1:\(lock.withLock { ports[name]! })")
        client.timeout = .seconds(20)
        return client
    }

    func rollup(_ name: String) -> RollupParameters { genesis.rollup(named: name)! }

    func stopAll() {
        for name in names { stop(name) }
        for proxy in proxies.values { proxy.stop() }
    }

    /// `tributary db verify` on `name`'s store (read-only, while the process runs).
    func verifyStore(_ name: String) async {
        let result: CommandResult
        do {
            result = try TributaryBinary.run([
                "db", "verify", "--datadir", datadir(name), "--genesis", genesisPath, "--quiet",
            ])
        } catch {
            await tally.violate("db verify \(name) could not run: \(error)")
            return
        }
        await tally.check(
            result.status == 0,
            "db verify \(name) failed (exit \(result.status)): \(result.output.suffix(400)) \(result.stderr.suffix(400))"
        )
    }
}

/// A devnet process that did not start as the suite needs it.
struct FaultNetError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
