import Config
import Foundation

/// THE devnet launcher of the benchmarks and the tests: a genesis (from `GenesisBuilder`, every
/// RPC address moved to a free port) written into a fresh temporary directory, an L1 node and
/// rollup nodes as real `tributary` processes, each with its datadir and log in that directory,
/// optionally under a file size limit (`ulimit -f`). `stop()` — or deinitialisation — stops every
/// process it started, rollups first, and the directory goes with the value: nothing is left behind.
public final class LocalDevnet: @unchecked Sendable {
    public struct Options: Sendable {
        /// The rollups to start a node for, by name (nil: every rollup of the genesis).
        public var start: [String]?
        /// `--log-level` for every node (nil: the daemons' default).
        public var logLevel: String?
        /// Extra arguments per rollup node, by rollup name.
        public var arguments: [String: [String]] = [:]
        /// Extra arguments of the L1 node.
        public var l1Arguments: [String] = []
        /// `ulimit -f` for every node, in bytes.
        public var fileSizeLimit: Int?
        /// How long a node may take to report its RPC address, in seconds.
        public var timeout: Double = 60

        public init() {}
    }

    public let dir: TemporaryDirectory
    public let genesisPath: String
    public let genesis: Genesis
    public let options: Options
    private let lock = NSLock()
    private var l1Node: NodeProcess?
    private var rollupNodes: [String: NodeProcess] = [:]
    private var extraNodes: [NodeProcess] = []

    /// Writes `builder`'s genesis with every RPC address on a free port, then starts the L1 and the
    /// rollup nodes `options.start` names (all by default); throws, stopping what it started, if one
    /// does not come up.
    public init(_ prefix: String, genesis builder: GenesisBuilder, options: Options = Options()) throws {
        dir = try TemporaryDirectory(prefix)
        self.options = options
        var builder = builder
        builder.l1.rpc = "http://127.0.0.1:\(try freePort())"
        for i in builder.rollups.indices { builder.rollups[i].rpc = "http://127.0.0.1:\(try freePort())" }
        genesisPath = dir.appending("genesis.json")
        genesis = try builder.write(to: genesisPath)
        do {
            try startL1()
            for rollup in genesis.rollups where options.start.map({ $0.contains(rollup.name) }) ?? true {
                try start(rollup.name)
            }
        } catch {
            stop()
            throw error
        }
    }

    /// The L1 node (started by `init`).
    public var l1: NodeProcess { lock.withLock { l1Node! } }

    /// The running node of rollup `name`, if started.
    public func node(_ name: String) -> NodeProcess? { lock.withLock { rollupNodes[name] } }

    /// The rollup nodes started, by name.
    public var nodes: [String: NodeProcess] { lock.withLock { rollupNodes } }

    /// Every node started but followers, with its name: the L1 first, then the rollups in the
    /// genesis's order.
    public var processes: [(name: String, node: NodeProcess)] {
        lock.withLock {
            [("l1", l1Node!)] + genesis.rollups.compactMap { r in rollupNodes[r.name].map { (r.name, $0) } }
        }
    }

    /// The datadir of the node named `name` (a rollup's, a follower's, or `"l1"`).
    public func datadir(_ name: String) -> String { dir.appending(name) }

    /// The RPC URL of rollup `name`, as the genesis says.
    public func url(_ name: String) -> String { genesis.rollup(named: name)?.rpc ?? "" }

    func common() -> [String] {
        ["--genesis", genesisPath] + (options.logLevel.map { ["--log-level", $0] } ?? [])
    }

    /// (Re)starts the L1 node on its datadir; a running one is stopped first.
    @discardableResult
    public func startL1(extra: [String] = []) throws -> NodeProcess {
        lock.withLock { l1Node }?.stop()
        let node = try NodeProcess(
            ["l1", "--datadir", datadir("l1")] + common() + options.l1Arguments + extra,
            logPath: logPath("l1"), timeout: options.timeout, fileSizeLimit: options.fileSizeLimit)
        lock.withLock { l1Node = node }
        return node
    }

    /// (Re)starts the sequencer of rollup `name` on its datadir; a running one is stopped first.
    @discardableResult
    public func start(_ name: String, extra: [String] = []) throws -> NodeProcess {
        lock.withLock { rollupNodes[name] }?.stop()
        let node = try NodeProcess(
            ["node", "--rollup", name, "--datadir", datadir(name)] + common() + (options.arguments[name] ?? [])
                + extra,
            logPath: logPath(name), timeout: options.timeout, fileSizeLimit: options.fileSizeLimit)
        lock.withLock { rollupNodes[name] = node }
        return node
    }

    /// Starts a follower of rollup `name` (RPC on a port of its own) in datadir `as`; stopped with
    /// the devnet.
    @discardableResult
    public func startFollower(of name: String, as follower: String, extra: [String] = []) throws -> NodeProcess {
        let node = try NodeProcess(
            ["node", "--follow", name, "--datadir", datadir(follower), "--rpc-port", "0"] + common() + extra,
            logPath: logPath(follower), timeout: options.timeout, fileSizeLimit: options.fileSizeLimit)
        lock.withLock { extraNodes.append(node) }
        return node
    }

    /// A log file per start, so a restarted node's earlier log stays readable.
    func logPath(_ name: String) -> String {
        var path = dir.appending("\(name).log")
        var n = 1
        while FileManager.default.fileExists(atPath: path) {
            n += 1
            path = dir.appending("\(name)-\(n).log")
        }
        return path
    }

    /// SIGTERM to every node it started — followers, rollups, then the L1 — waiting for each.
    public func stop() {
        let (extra, rollups, l1) = lock.withLock { (extraNodes, rollupNodes, l1Node) }
        for node in extra { node.stop() }
        for node in rollups.values { node.stop() }
        l1?.stop()
    }

    deinit { stop() }
}
