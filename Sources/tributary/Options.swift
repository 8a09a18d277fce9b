import API
import ArgumentParser
import Config
import Foundation
import HTTPServer
import Logging
import RPC
import Storage

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(help: "The node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @Flag(help: "Print JSON instead of a human summary.")
    var json = false

    var client: RollupClient { RollupClient(url: rpc) }

    /// Prints `value` as JSON (with --json) or through `human`.
    func output(_ value: JSONValue, human: (JSONValue) -> String) throws {
        try printResult(value, json: json) { human(value) }
    }
}

/// Prints a command's result: pretty, key-sorted JSON with `json`, else the human form.
func printResult(_ value: JSONValue, json: Bool, human: () -> String) throws {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    } else {
        print(human())
    }
}

/// Options of daemons.
struct DaemonOptions: ParsableArguments {
    @Option(help: "The genesis file.")
    var genesis = "Genesis/devnet.json"

    @Option(help: "The data directory (created if missing).")
    var datadir: String

    @Option(help: "The address the JSON-RPC server binds.")
    var rpcHost = "127.0.0.1"

    @Option(help: "The JSON-RPC port; 0 picks any free port (the URL is printed). Default: the genesis address's port.")
    var rpcPort: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(
        help: ArgumentHelp(
            "The most bytes the store's memory map may grow to (suffixes K, M, G, T: binary units). Default 1T.",
            discussion: """
                The map starts at an eighth of this (at most 64M) and doubles as data arrives. When a write needs \
                more, or the disk is full, or the data file reaches the file-size limit (ulimit -f), the daemon \
                logs one critical line (the store, the figures, what to do) and exits with status 74 without \
                committing or acknowledging that write; restart it with a larger value, or after freeing space, to \
                go on.
                """, valueName: "bytes"))
    var maxMapSize: String?

    @Option(help: "The most connections the JSON-RPC server keeps open; past it the longest-idle one is closed.")
    var maxConnections = ConnectionLimits.devnet.maxConnections

    @Option(help: "The most connections from one remote address; past it that address's longest-idle one is closed.")
    var maxConnectionsPerAddress = ConnectionLimits.devnet.maxPerAddress

    @Option(
        help: ArgumentHelp(
            "Seconds a connection may stay idle, or take to send a request's head, before it is closed.",
            valueName: "seconds"))
    var idleTimeout = Int(ConnectionLimits.devnet.idleTimeout.components.seconds)

    @Option(help: ArgumentHelp("Seconds a request's body may take to arrive after its head.", valueName: "seconds"))
    var bodyTimeout = Int(ConnectionLimits.devnet.bodyTimeout.components.seconds)

    func validate() throws {
        guard maxConnections >= 1, maxConnectionsPerAddress >= 1 else {
            throw ValidationError("--max-connections and --max-connections-per-address must be at least 1")
        }
        guard idleTimeout >= 1, bodyTimeout >= 1 else {
            throw ValidationError("--idle-timeout and --body-timeout must be at least 1 second")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let rpcPort, !(0...65535).contains(rpcPort) { throw ValidationError("--rpc-port must be 0-65535") }
        _ = try mapCap()
    }

    /// The smallest `--max-map-size`: room for the genesis and some blocks.
    static let minimumMapSize = 256 << 10

    /// `--max-map-size` in bytes, nil when not given.
    func mapCap() throws -> Int? {
        guard let maxMapSize else { return nil }
        let shifts: [Character: Int] = ["k": 10, "m": 20, "g": 30, "t": 40]
        var digits = Substring(maxMapSize.lowercased())
        if digits.hasSuffix("ib") {
            digits = digits.dropLast(2)
        } else if digits.hasSuffix("b") {
            digits = digits.dropLast()
        }
        var shift = 0
        if let last = digits.last, let s = shifts[last] {
            shift = s
            digits = digits.dropLast()
        }
        guard let n = Int(digits), n > 0, n <= Int.max >> shift, n << shift >= Self.minimumMapSize else {
            throw ValidationError(
                "--max-map-size must be a byte count of at least \(Self.minimumMapSize >> 10)K (e.g. 262144, 512K, "
                    + "64M, 2G), got \"\(maxMapSize)\"")
        }
        return n << shift
    }

    /// The RPC server's connection limits from the options, the total cap fitted below the process's
    /// descriptor limit (raised to its hard limit first); logs when the cap had to be lowered.
    func connectionLimits(logger: Logger) -> ConnectionLimits {
        let asked = ConnectionLimits(
            maxConnections: maxConnections, maxPerAddress: maxConnectionsPerAddress,
            idleTimeout: .seconds(idleTimeout), bodyTimeout: .seconds(bodyTimeout))
        let descriptors = ConnectionLimits.raiseDescriptorLimit()
        let limits = asked.fitted(toDescriptors: descriptors)
        if limits.maxConnections < asked.maxConnections {
            logger.warning(
                "connection cap lowered to fit the descriptor limit",
                metadata: [
                    "rpc.max_connections": "\(limits.maxConnections)", "rpc.asked": "\(asked.maxConnections)",
                    "process.descriptor_limit": "\(descriptors)",
                ])
        }
        return limits
    }

    /// How the daemon opens its store: capped at `--max-map-size`, with the map starting small enough under a small
    /// cap that it grows on the way there.
    func storageOptions() throws -> Environment.Options {
        var options = Environment.Options()
        if let cap = try mapCap() {
            options.maxMapSize = cap
            options.initialMapSize = min(options.initialMapSize, max(cap / 8, 64 << 10))
        }
        return options
    }

    /// Runs a daemon's body. Writes past the file-size limit (`ulimit -f`) fail with `EFBIG` instead of the kernel
    /// killing the process (`SIGXFSZ` is ignored), and a fatal storage error ends the daemon with ONE critical line
    /// for the operator and exit status 74 (`EX_IOERR`).
    func runDaemon(kind: String, logger: Logger, _ body: () async throws -> Void) async throws {
        signal(SIGXFSZ, SIG_IGN)
        do { try await body() } catch let stop as StorageStop {
            logger.critical(
                "\(storageFailureMessage(stop.error, path: stop.path, kind: kind, committed: stop.lastCommitted))")
            throw ExitCode(74)
        } catch let error as StorageError where error.isFatal {
            logger.critical("\(storageFailureMessage(error, path: datadir, kind: kind, committed: nil))")
            throw ExitCode(74)
        }
    }

    /// Sets up logging to standard error at the chosen level.
    func bootstrapLogging(label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

/// Renders a flat summary: one `key: value` line per field, in the given order.
func summary(_ value: JSONValue, _ fields: [String]) -> String {
    fields.compactMap { key -> String? in
        guard let v = value[key] else { return nil }
        return "\(key): \(render(v))"
    }.joined(separator: "\n")
}

func render(_ value: JSONValue) -> String {
    switch value {
    case .null: return "-"
    case .bool(let b): return b ? "yes" : "no"
    case .integer(let i): return String(i)
    case .unsigned(let u): return String(u)
    case .fraction(let d): return String(d)
    case .string(let s): return s
    case .array(let a): return a.map(render).joined(separator: ", ")
    case .object(let o): return o.keys.sorted().map { "\($0)=\(render(o[$0]!))" }.joined(separator: " ")
    }
}

/// What an operator reads when a daemon stops on its store, in one line: what happened, the store, the figures, what
/// to do. `kind` names the daemon ("rollup node", "L1 node"); `committed` is the last height it committed.
func storageFailureMessage(_ error: StorageError, path: String, kind: String, committed: UInt64?) -> String {
    let stopped =
        "The \(kind) stopped" + (committed.map { " after committing height \($0)" } ?? "")
        + ": nothing after that was committed or acknowledged, and the store is consistent (LMDB commits whole "
        + "transactions or nothing)."
    func free(_ bytes: Int?) -> String { bytes.map { "\(formatBytes($0)) free" } ?? "free space unknown" }
    switch error {
    case .mapFullCannotGrow(let mapSize, let maxMapSize, _, let freeDiskBytes):
        return "storage full: the store \(path) reached its map cap: the map is \(formatBytes(mapSize)) and "
            + "--max-map-size is \(formatBytes(maxMapSize)); \(free(freeDiskBytes)) on its file system. \(stopped) "
            + "To go on, restart it with a larger --max-map-size (the data file grows with the data: keep that much "
            + "disk free)."
    case .noSpace(_, let operation, let code, let freeDiskBytes, let fileSizeLimit?):
        return "storage full: cannot write to the store \(path): its data file reached this process's file-size "
            + "limit of \(formatBytes(fileSizeLimit)) (ulimit -f; \(operation): \(String(cString: strerror(code)))); "
            + "\(free(freeDiskBytes)) on its file system. \(stopped) To go on, raise or lift the limit (ulimit -f) "
            + "and restart it."
    case .noSpace(_, let operation, let code, _, nil) where code == EFBIG:
        return "storage full: cannot write to the store \(path): its data file is as large as its file system allows "
            + "(\(operation): \(String(cString: strerror(code)))). \(stopped) To go on, move --datadir to a file system "
            + "that allows larger files and restart it."
    case .noSpace(_, let operation, let code, let freeDiskBytes, nil):
        return "storage full: cannot write to the store \(path): its file system is full (\(free(freeDiskBytes)); "
            + "\(operation): \(String(cString: strerror(code)))). \(stopped) To go on, free disk space (or move "
            + "--datadir to a larger disk) and restart it."
    default:
        return "storage failed: \(error) (store \(path)). \(stopped) Check the disk, run `tributary db verify "
            + "--datadir \(path)`, and restore the store from a snapshot if it fails."
    }
}
