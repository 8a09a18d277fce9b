import ArgumentParser
import Chain
import Config
import Foundation
import Storage

/// `tributary db …`: inspect a store, read-only, also while its node runs.
struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Inspect a node's store (read-only; safe while the node runs).",
        subcommands: [DBTablesCommand.self, DBStatsCommand.self, DBVerifyCommand.self])
}

/// Options of every `db` subcommand.
struct DBOptions: ParsableArguments {
    @Option(help: "The store's data directory.")
    var datadir: String

    @Flag(help: "Print JSON.")
    var json = false

    func open() throws -> Environment {
        var options = Environment.Options()
        options.readOnly = true
        guard FileManager.default.fileExists(atPath: datadir + "/data.mdb") else {
            throw ValidationError("\(datadir) is not an LMDB store (no data.mdb)")
        }
        return try Environment(path: datadir, options: options)
    }

    func print(_ value: JSONValue, human: () -> String) throws {
        Swift.print(json ? String(decoding: try value.serialized(), as: UTF8.self) : human())
    }
}

/// `tributary db tables`.
struct DBTablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tables", abstract: "List the store's tables.")

    @OptionGroup var db: DBOptions

    func run() throws {
        let names = try db.open().tableNames()
        try db.print(.array(names.map(JSONValue.string))) { names.joined(separator: "\n") }
    }
}

/// `tributary db stats`.
struct DBStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Per table entries, depth, pages and bytes; the map picture; the chain head.")

    @OptionGroup var db: DBOptions

    func run() throws {
        let env = try db.open()
        let info = try env.info()
        var rows: [(String, TableStat)] = []
        for name in try env.tableNames() { if let stat = try env.stat(table: name) { rows.append((name, stat)) } }
        let head: UInt64? = try env.read { txn in
            try txn.get(Meta.self, Meta.head).flatMap { try? UInt64(canonicalBytes: $0) }
        }
        let root = try head.flatMap { h in try env.read { try $0.get(Headers.self, h)?.stateRoot } }
        let used = (info.lastPageNumber + 1) * info.pageSize
        var tables: [String: JSONValue] = [:]
        for (name, s) in rows {
            tables[name] = .object([
                "entries": .number(s.entries), "depth": .number(s.depth), "branchPages": .number(s.branchPages),
                "leafPages": .number(s.leafPages), "overflowPages": .number(s.overflowPages), "bytes": .number(s.bytes),
            ])
        }
        var json: [String: JSONValue] = [
            "tables": .object(tables), "mapSize": .number(info.mapSize), "pageSize": .number(info.pageSize),
            "usedBytes": .number(used), "lastTransaction": .number(info.lastTransactionID),
            "readers": .number(info.readersUsed),
        ]
        if let head { json["head"] = .number(head) }
        if let root { json["stateRoot"] = .string(root.hex) }
        try db.print(.object(json)) {
            func row(_ cells: [String]) -> String {
                let widths = [14, 10, 6, 8, 8, 9, 12]
                return zip(cells, widths).enumerated().map { i, pair in
                    let pad = String(repeating: " ", count: max(0, pair.1 - pair.0.count))
                    return i == 0 ? pair.0 + pad : pad + pair.0
                }.joined(separator: " ")
            }
            var lines = [row(["table", "entries", "depth", "branch", "leaf", "overflow", "bytes"])]
            for (name, s) in rows {
                lines.append(
                    row([
                        name, "\(s.entries)", "\(s.depth)", "\(s.branchPages)", "\(s.leafPages)", "\(s.overflowPages)",
                        "\(s.bytes)",
                    ]))
            }
            lines.append(
                "map: \(info.mapSize) bytes, used \(used) bytes (\(info.lastPageNumber + 1) pages of \(info.pageSize)), readers \(info.readersUsed)"
            )
            if let head { lines.append("head: \(head)" + (root.map { ", state root \($0)" } ?? "")) }
            return lines.joined(separator: "\n")
        }
    }
}

/// `tributary db verify`.
struct DBVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-execute a rollup store from genesis and check every header, root and receipt.",
        discussion:
            "The store's rollup is found in the genesis file by the store's genesis hash. Exits 1 at the first problem."
    )

    @OptionGroup var db: DBOptions

    @Option(help: "The genesis file the store was created from.")
    var genesis = "Genesis/devnet.json"

    func run() throws {
        let parsed: Genesis
        do { parsed = try Genesis.load(path: genesis) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        let store = try ChainStore.open(datadir: db.datadir, genesis: parsed)
        do {
            let height = try store.verify()
            try db.print(.object(["ok": .bool(true), "rollup": .string(store.rollup.name), "blocks": .number(height)]))
            {
                "ok: \(store.rollup.name), blocks 1…\(height) re-executed, every root matches"
            }
        } catch let error as ChainError {
            try db.print(
                .object([
                    "ok": .bool(false), "rollup": .string(store.rollup.name), "problem": .string(error.description),
                ])
            ) {
                "FAILED: \(error)"
            }
            throw ExitCode(1)
        }
    }
}
