import API
import Config
import Devnet
import Foundation
import Primitives
import RPC

/// The devnet the suite injects faults into: an L1, three rollups (alpha, beta, gamma) and
/// followers on the one launcher (`LocalDevnet`), every process named in the genesis behind its own
/// `ChaosProxy` (the launcher's fronts). The genesis names the proxies, so the processes reach each
/// other only through them; each process binds a port of its own at every start and its proxy
/// learns it.
final class FaultNet: @unchecked Sendable {
    struct Timing: Sendable {
        var l1BlockTimeMs = 200
        var windowBlocks = 25
        var rollupBlockTimeMs = 100
        var outputIntervalBlocks = 10
    }

    let devnet: LocalDevnet
    let timing: Timing
    let tally: Tally
    /// Proxies by the process they front: `l1`, `alpha`, `beta`, `gamma`.
    let proxies: [String: ChaosProxy]
    /// Extra arguments by process, kept across restarts.
    private var extra: [String: [String]] = [:]
    private let lock = NSLock()

    /// The genesis's rollups, named as `GenesisBuilder` names the first three.
    static let rollupNames = (0..<3).map(GenesisBuilder.name)

    /// A devnet in `directory` (kept), or in a temporary directory removed with the value unless
    /// `keep()` is called.
    init(directory: String?, timing: Timing, seed: UInt64, tally: Tally) throws {
        self.timing = timing
        self.tally = tally
        var proxies: [String: ChaosProxy] = [:]
        for (i, name) in (["l1"] + Self.rollupNames).sorted().enumerated() {
            let proxy = ChaosProxy(name: name, port: try freePort(), seed: seed &+ UInt64(i))
            proxy.start()
            proxies[name] = proxy
        }
        self.proxies = proxies
        var builder = GenesisBuilder(rollups: Self.rollupNames.count)
        builder.devSeed = nil
        builder.l1.blockTimeMs = timing.l1BlockTimeMs
        builder.l1.fraudWindowBlocks = timing.windowBlocks
        builder.l1.extra["maxBlobBytes"] = .number(1_048_576)
        builder.eachRollup {
            $0.blockTimeMs = timing.rollupBlockTimeMs
            $0.maxBlockTransactions = 2000
            $0.batchMaxAgeMs = 400
            $0.outputIntervalBlocks = timing.outputIntervalBlocks
        }
        var options = LocalDevnet.Options()
        options.startsL1 = false
        options.start = []
        options.timeout = 120
        options.fronts = proxies
        options.directory = directory
        do {
            devnet = try LocalDevnet("faults", genesis: builder, options: options)
        } catch {
            for proxy in proxies.values { proxy.stop() }
            throw error
        }
    }

    var dir: String { devnet.dir.path }
    var genesisPath: String { devnet.genesisPath }
    var genesis: Genesis { devnet.genesis }

    /// Keeps the devnet's directory for inspection.
    func keep() { devnet.dir.keep() }

    func datadir(_ name: String) -> String { devnet.datadir(name) }

    /// Starts `name` (`l1`, a rollup's name for its sequencer, `<rollup>-follower[-…]`); `extra`
    /// arguments stay with it across restarts.
    func start(_ name: String, extra more: [String]? = nil) throws {
        let args: [String] = lock.withLock {
            if let more { extra[name] = more }
            return extra[name] ?? []
        }
        if name == "l1" {
            try devnet.startL1(extra: args)
        } else if name.contains("-follower") {
            // `<rollup>-follower`, or a second follower such as `alpha-follower-capped`.
            try devnet.startFollower(of: String(name.prefix { $0 != "-" }), as: name, extra: args)
        } else {
            try devnet.start(name, extra: args)
        }
    }

    /// SIGKILL: no cleanup, no flush.
    func kill(_ name: String) { devnet.kill(name) }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop(_ name: String) -> Int32? { devnet.stop(name) }

    var names: [String] { devnet.names }

    /// Processes that exited without being told to, with their status.
    func unexpectedExits() -> [(String, Int32)] { devnet.unexpectedExits().map { ($0.name, $0.status) } }

    func pid(_ name: String) -> Int32? { devnet.node(name)?.process.processIdentifier }

    /// Runs `tributary arguments` until it exits by itself (`LocalDevnet.runUntilExit`).
    func runUntilExit(_ arguments: [String], fileSizeLimit: Int?, logPath: String, timeout: Double) async throws
        -> Int32?
    {
        try await devnet.runUntilExit(arguments, fileSizeLimit: fileSizeLimit, logPath: logPath, timeout: timeout)
    }

    /// A client of `name`'s own port (not through its proxy).
    func rpc(_ name: String) -> RPCClient {
        var client = RPCClient(url: devnet.node(name)?.url ?? "http://127.0.0.1:1")
        client.timeout = .seconds(20)
        return client
    }

    /// The typed client of the L1's own port.
    var l1: L1Client { L1Client(transport: rpc("l1")) }

    /// The typed client of rollup node `name`'s own port.
    func client(_ name: String) -> RollupClient { RollupClient(transport: rpc(name)) }

    func rollup(_ name: String) -> RollupParameters { genesis.rollup(named: name)! }

    func stopAll() {
        devnet.stop()
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
