import ArgumentParser
import Config
import Foundation
import Logging
import RPC

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(help: "The node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @Flag(help: "Print JSON instead of a human summary.")
    var json = false

    var client: RPCClient { RPCClient(url: rpc) }

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

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let rpcPort, !(0...65535).contains(rpcPort) { throw ValidationError("--rpc-port must be 0-65535") }
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
