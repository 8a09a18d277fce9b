import Config
import Foundation

/// What stands in front of a node's RPC port (the fault suite's chaos proxy): the genesis names
/// the front's port, the node behind it binds a port of its own at every start, and the front is
/// told where it is.
public protocol DevnetFront: AnyObject, Sendable {
    /// The port the genesis names for the node behind the front.
    var port: Int { get }
    /// Points the front at the node's own RPC URL (after each start).
    func retarget(_ url: String)
}

/// THE devnet launcher of the benchmarks, the tests and the fault suite: a genesis (from
/// `GenesisBuilder`, every RPC address moved to a free port, or to the port of the node's front)
/// written into a fresh temporary directory (or a given one), an L1 node, rollup sequencers and
/// named followers as real `tributary` processes, each with its datadir and a log per start in that
/// directory, optionally under a file size limit (`ulimit -f`). Any node can be stopped, killed and
/// started again by name. `stop()` — or deinitialisation — stops every process it started,
/// followers and rollups first, and a temporary directory goes with the value: nothing is left
/// behind.
public final class LocalDevnet: @unchecked Sendable {
    public struct Options: Sendable {
        /// Whether `init` starts the L1 node.
        public var startsL1 = true
        /// The rollups whose sequencer `init` starts, by name (nil: every rollup of the genesis).
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
        /// Fronts by node name (`l1` or a rollup's name): the genesis names their ports.
        public var fronts: [String: any DevnetFront] = [:]
        /// An existing directory to hold the devnet, kept afterwards (nil: a temporary one).
        public var directory: String?

        public init() {}
    }

    public let dir: TemporaryDirectory
    public let genesisPath: String
    public let genesis: Genesis
    public let options: Options
    private let lock = NSLock()
    /// Every running node by name: `l1`, a rollup's name (its sequencer), a follower's own name.
    private var running: [String: NodeProcess] = [:]

    /// Writes `builder`'s genesis with every RPC address on a free port (or its front's), then starts
    /// the L1 and the rollup sequencers `options.start` names (all by default); throws, stopping what
    /// it started, if one does not come up.
    public init(_ prefix: String, genesis builder: GenesisBuilder, options: Options = Options()) throws {
        dir = try options.directory.map { try TemporaryDirectory(existing: $0) } ?? TemporaryDirectory(prefix)
        self.options = options
        var builder = builder
        func address(_ name: String) throws -> String {
            "http://127.0.0.1:\(try options.fronts[name]?.port ?? freePort())"
        }
        builder.l1.rpc = try address("l1")
        for i in builder.rollups.indices { builder.rollups[i].rpc = try address(builder.rollups[i].name) }
        genesisPath = dir.appending("genesis.json")
        genesis = try builder.write(to: genesisPath)
        do {
            if options.startsL1 { try startL1() }
            for rollup in genesis.rollups where options.start.map({ $0.contains(rollup.name) }) ?? true {
                try start(rollup.name)
            }
        } catch {
            stop()
            throw error
        }
    }

    /// The L1 node (started by `init` or `startL1`).
    public var l1: NodeProcess { lock.withLock { running["l1"]! } }

    /// The running node called `name` (`l1`, a rollup's sequencer, a follower), if any.
    public func node(_ name: String) -> NodeProcess? { lock.withLock { running[name] } }

    /// The running rollup sequencers, by rollup name.
    public var nodes: [String: NodeProcess] {
        lock.withLock { running.filter { name, _ in genesis.rollup(named: name) != nil } }
    }

    /// The L1 and the rollup sequencers running, with their names: the L1 first, then the rollups
    /// in the genesis's order.
    public var processes: [(name: String, node: NodeProcess)] {
        lock.withLock {
            (running["l1"].map { [("l1", $0)] } ?? [])
                + genesis.rollups.compactMap { r in running[r.name].map { (r.name, $0) } }
        }
    }

    /// The names of every running node, sorted.
    public var names: [String] { lock.withLock { running.keys.sorted() } }

    /// The datadir of the node named `name` (a rollup's, a follower's, or `"l1"`).
    public func datadir(_ name: String) -> String { dir.appending(name) }

    /// The RPC URL of rollup `name`, as the genesis says (its front's, when it has one).
    public func url(_ name: String) -> String { genesis.rollup(named: name)?.rpc ?? "" }

    func common() -> [String] {
        ["--genesis", genesisPath] + (options.logLevel.map { ["--log-level", $0] } ?? [])
    }

    /// Starts `arguments` as node `name`, a running one of that name stopped first; a node behind a
    /// front binds a port of its own, and the front learns it.
    private func launch(_ name: String, _ arguments: [String]) throws -> NodeProcess {
        lock.withLock { running.removeValue(forKey: name) }?.stop()
        let front = options.fronts[name]
        let node = try NodeProcess(
            arguments + common() + (front == nil ? [] : ["--rpc-port", "0"]), logPath: logPath(name),
            timeout: options.timeout, fileSizeLimit: options.fileSizeLimit)
        lock.withLock { running[name] = node }
        front?.retarget(node.url)
        return node
    }

    /// (Re)starts the L1 node on its datadir.
    @discardableResult
    public func startL1(extra: [String] = []) throws -> NodeProcess {
        try launch("l1", ["l1", "--datadir", datadir("l1")] + options.l1Arguments + extra)
    }

    /// (Re)starts the sequencer of rollup `name` on its datadir.
    @discardableResult
    public func start(_ name: String, extra: [String] = []) throws -> NodeProcess {
        try launch(name, ["node", "--rollup", name, "--datadir", datadir(name)] + (options.arguments[name] ?? []) + extra)
    }

    /// (Re)starts the follower `follower` of rollup `name` (RPC on a port of its own) in its datadir.
    @discardableResult
    public func startFollower(of name: String, as follower: String, extra: [String] = []) throws -> NodeProcess {
        try launch(follower, ["node", "--follow", name, "--datadir", datadir(follower), "--rpc-port", "0"] + extra)
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

    /// SIGKILL to node `name`: no cleanup, no flush.
    public func kill(_ name: String) {
        lock.withLock { running.removeValue(forKey: name) }?.kill()
    }

    /// SIGTERM to node `name`, waiting for it; its exit status (nil: not running).
    @discardableResult
    public func stop(_ name: String) -> Int32? {
        lock.withLock { running.removeValue(forKey: name) }?.stop()
    }

    /// Nodes that exited without being told to, with their status; they are no longer running.
    public func unexpectedExits() -> [(name: String, status: Int32)] {
        lock.withLock {
            let dead = running.filter { !$0.value.process.isRunning }
            for name in dead.keys { running.removeValue(forKey: name) }
            return dead.map { ($0.key, $0.value.process.terminationStatus) }.sorted { $0.0 < $1.0 }
        }
    }

    /// Runs `tributary arguments` (not a node of the devnet: a process that should end by itself)
    /// under `ulimit -f` when `fileSizeLimit` is given, standard error to `logPath`; its exit status,
    /// or nil when it was still running after `timeout` seconds and was killed.
    public func runUntilExit(_ arguments: [String], fileSizeLimit: Int?, logPath: String, timeout: Double) async throws
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

    /// SIGTERM to every node it started — followers, rollups, then the L1 — waiting for each.
    public func stop() {
        let all = lock.withLock {
            defer { running.removeAll() }
            return running
        }
        func rank(_ name: String) -> Int { name == "l1" ? 2 : genesis.rollup(named: name) != nil ? 1 : 0 }
        for (_, node) in all.sorted(by: { (rank($0.key), $0.key) < (rank($1.key), $1.key) }) { node.stop() }
    }

    deinit { stop() }
}
