import API
import ArgumentParser
import Config
import Foundation
import Node
import L1Chain
import Operator
import Primitives

/// `tributary db …`: inspect a store, read-only, also while its node runs.
struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Inspect a node's store (read-only; safe while the node runs).",
        subcommands: [
            DBTablesCommand.self, DBStatsCommand.self, DBGetCommand.self, DBListCommand.self, DBHeaderCommand.self,
            DBBlockCommand.self, DBTxCommand.self, DBAccountCommand.self, DBOutboxCommand.self, DBInboxCommand.self,
            DBBatchesCommand.self, DBBlobsCommand.self, DBBlobCommand.self, DBOutputsCommand.self,
            DBVerifyCommand.self, DBDiffCommand.self, DBCheckL1Command.self,
        ])
}

/// Options of every `db` subcommand.
struct DBOptions: ParsableArguments {
    @Option(help: "The store's data directory (a rollup node's or the L1 node's).")
    var datadir: String

    @Flag(help: "Print JSON.")
    var json = false

    func open() throws -> InspectedStore {
        do { return try InspectedStore(datadir: datadir) } catch let error as OperatorError {
            throw ValidationError(error.message)
        }
    }

    /// Runs `body` and prints its JSON (with --json) or its human form; operator errors exit 1.
    func output(_ body: () throws -> JSONValue, human: (JSONValue) -> String) throws {
        try report {
            let value = try body()
            print(json ? String(decoding: try value.serialized(), as: UTF8.self) : human(value))
        }
    }
}

/// The `--rollup` of the db commands: a rollup's name, looked up in `--genesis`, or its id — as in
/// every other command that names a rollup.
struct DBRollupOptions: ParsableArguments {
    @Option(help: "The genesis file that names the rollups (for --rollup NAME).")
    var genesis = "Genesis/devnet.json"

    /// The id `value` names: a number is an id; anything else a name in the genesis file.
    func id(_ value: String) throws -> RollupID {
        if let id = UInt32(value) { return RollupID(id) }
        let g: Genesis
        do { g = try loadGenesis(genesis) } catch let error as OperatorError {
            throw ValidationError("--rollup \(value) is a name, and names come from the genesis file: \(error.message)")
        }
        if let r = g.rollup(nameOrID: value) { return r.id }
        let known = g.rollups.map { "\($0.name) (\($0.id.rawValue))" }.joined(separator: ", ")
        throw ValidationError("no rollup named \"\(value)\" in \(genesis); pass one of \(known), by name or id")
    }
}

/// Prints an operator error on standard error and exits 1.
func report(_ body: () throws -> Void) throws {
    do { try body() } catch let error as OperatorError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}

/// `report` for async bodies.
func reportAsync(_ body: () async throws -> Void) async throws {
    do { try await body() } catch let error as OperatorError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}

/// `tributary db check-l1`: where a rollup store and the L1 diverge.
struct DBCheckL1Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-l1",
        abstract: "Check a rollup store against the L1: batch records, head against the DA height, the posted block.",
        discussion:
            "Applies the rule a node applies at start-up (docs/operations.md, \"Stores checked against the L1\"). Exits 1 and names the first divergence: the batch or block and both sides' hashes."
    )
    @OptionGroup var db: DBOptions
    @Option(help: "The L1 node's JSON-RPC URL (default: the genesis's l1.rpc).") var l1: String?
    @Option(help: "The genesis file (for the default L1 address).") var genesis = "Genesis/devnet.json"
    @Flag(help: "The store is a sequencer's: blocks above the DA height are its own, not yet posted.")
    var sequencer = false

    func run() async throws {
        let store = try db.open()
        guard store.kind == .rollup else { throw ValidationError("\(db.datadir) is not a rollup store") }
        let url = try l1 ?? loadGenesis(genesis).l1.rpc
        let rollup = try store.rollupID()
        let check = try await L1Consistency.check(
            environment: store.environment, rollup: rollup, l1: L1Client(url: url), mayBeAhead: sequencer)
        try printJSON(check.json, json: db.json) {
            if let divergence = check.divergence { return "DIVERGES: \(divergence)" }
            return
                "ok: head \(check.head), DA height \(check.daHeight); \(check.batchesCompared) batch records equal the L1's blobs; block \(check.comparedHeight.map(String.init) ?? "none") equals the posted one"
        }
        if !check.ok { throw ExitCode(1) }
    }
}

struct DBTablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tables", abstract: "List the store's tables.")
    @OptionGroup var db: DBOptions

    func run() throws {
        let store = try db.open()
        try db.output({ .array(try store.environment.tableNames().map(JSONValue.string)) }) {
            Human.lines($0).joined(separator: "\n")
        }
    }
}

struct DBStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Per table entries, depth, pages and bytes; the map and free-page picture; head, state root, heights."
    )
    @OptionGroup var db: DBOptions
    @Option(help: "The L1 node's store: adds a rollup store's finalized height as the L1 records it.")
    var l1Datadir: String?

    func run() throws {
        let store = try db.open()
        try db.output(
            { try store.stats(l1: try l1Datadir.map { try InspectedStore(datadir: $0) }) },
            human: InspectedStore.humanStats)
    }
}

struct DBGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "The value under one key of a table, decoded.",
        discussion:
            "Keys: heights and seqs as numbers, hashes and addresses as 0x-hex, state nodes as VERSION:NIBBLES, state values as VERSION:0xKEYHASH, L1 blobs, outputs and l1_facts as ROLLUP:INDEX, outbox_nodes as LEVEL:INDEX; any key as 0x-hex bytes."
    )
    @OptionGroup var db: DBOptions
    @Argument(help: "The table.") var table: String
    @Argument(help: "The key.") var key: String
    @Flag(help: "Print the key and value as hex.") var raw = false

    func run() throws {
        let store = try db.open()
        try db.output({ try store.get(table: table, key: key, raw: raw) }, human: InspectedStore.humanEntry)
    }
}

struct DBListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Entries of a table in key order, decoded.")
    @OptionGroup var db: DBOptions
    @Argument(help: "The table.") var table: String
    @Option(help: "Start at this key (inclusive; the same forms as `db get`).") var from: String?
    @Option(help: "At most this many entries.") var limit = 20
    @Flag(help: "Go backwards (from the last key, or from --from down).") var reverse = false
    @Flag(help: "Print keys and values as hex.") var raw = false

    func validate() throws { if limit < 1 { throw ValidationError("--limit must be at least 1") } }

    func run() throws {
        let store = try db.open()
        try db.output(
            { try store.list(table: table, from: from, limit: limit, reverse: reverse, raw: raw) },
            human: InspectedStore.humanEntries)
    }
}

struct DBHeaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "header", abstract: "The block header at a height (rollup or L1 store).")
    @OptionGroup var db: DBOptions
    @Argument(help: "The height.") var height: UInt64

    func run() throws {
        let store = try db.open()
        try db.output({ try store.header(height) }) { Human.lines($0).joined(separator: "\n") }
    }
}

struct DBBlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block", abstract: "The block at a height with its transactions and receipts (or L1 entries).")
    @OptionGroup var db: DBOptions
    @Argument(help: "The height.") var height: UInt64

    func run() throws {
        let store = try db.open()
        try db.output({ try store.block(height) }) { Human.lines($0).joined(separator: "\n") }
    }
}

struct DBTxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tx", abstract: "A transaction by id: its block, position and receipt.")
    @OptionGroup var db: DBOptions
    @Argument(help: "The transaction id (0x + 64 hex digits).") var hash: String

    func run() throws {
        let store = try db.open()
        guard let id = try? Hash(hex: hash) else { throw ValidationError("\(hash) is not a 32-byte hex id") }
        try db.output({ try store.transaction(id) }) { Human.lines($0).joined(separator: "\n") }
    }
}

struct DBAccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "An account's nonce and balances from the stored state, optionally proven.")
    @OptionGroup var db: DBOptions
    @Argument(help: "The address (0x + 40 hex digits).") var address: String
    @Option(help: "The genesis file the store was created from.") var genesis = "Genesis/devnet.json"
    @Option(help: "At this height (default: the head).") var height: UInt64?
    @Option(help: "An asset to show (repeatable; default: the native asset).") var asset: [String] = []
    @Flag(help: "Add sparse Merkle proofs against the block's state root.") var proof = false

    func run() throws {
        let store = try db.open()
        guard let address = try? Address(hex: self.address) else {
            throw ValidationError("\(self.address) is not a 20-byte hex address")
        }
        let assets = try asset.map { name in
            guard let a = AssetName(rawValue: name) else { throw ValidationError("\(name) is not an asset name") }
            return a
        }
        try db.output(
            {
                try store.account(
                    address, genesis: try loadGenesis(genesis), assets: assets, height: height, proof: proof)
            }, human: { Human.lines($0).joined(separator: "\n") })
    }
}

struct DBOutboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox", abstract: "The cross-rollup messages this rollup sent, in outbox order.")
    @OptionGroup var db: DBOptions
    @Option(help: "From this nonce (outbox index).") var from: UInt64 = 0
    @Option(help: "At most this many.") var limit = 100

    func run() throws {
        let store = try db.open()
        try db.output({ try store.outbox(from: from, limit: limit) }) { value in
            messageTable(value, first: ("nonce", "nonce"), last: ("sent in", "height"))
        }
    }
}

struct DBInboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox", abstract: "The cross-rollup messages relayed to this rollup, with what became of them.")
    @OptionGroup var db: DBOptions
    @Option(help: "From this block height.") var from: UInt64 = 1
    @Option(help: "At most this many.") var limit = 100

    func run() throws {
        let store = try db.open()
        try db.output({ try store.inbox(from: from, limit: limit) }) { value in
            messageTable(value, first: ("block", "relayedInBlock"), last: ("relay", "relay"))
        }
    }
}

/// One line per message: `first`, id, source → destination, target, value, `last`.
func messageTable(_ value: JSONValue, first: (String, String), last: (String, String)) -> String {
    guard case .array(let items) = value, !items.isEmpty else { return "no messages" }
    var rows = [[first.0, "id", "route", "nonce", "target", "value", last.0]]
    for m in items {
        func text(_ key: String) -> String {
            switch m[key] {
            case .integer(let i)?: return String(i)
            case .unsigned(let u)?: return String(u)
            case .string(let s)?: return s
            default: return "-"
            }
        }
        var value = ""
        if case .array(let amounts)? = m["value"] {
            value = amounts.map { a in
                let amount = a["amount"].map { if case .integer(let i) = $0 { String(i) } else { "?" } } ?? "?"
                let asset: String
                if case .string(let s)? = a["asset"] { asset = s } else { asset = "?" }
                return "\(amount):\(asset)"
            }.joined(separator: ",")
        }
        rows.append([
            text(first.1), String(text("id").prefix(18)) + "…", "\(text("source"))→\(text("destination"))",
            text("nonce"), text("target"), value.isEmpty ? "-" : value, text(last.1),
        ])
    }
    return table(rows)
}

struct DBBatchesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batches", abstract: "A rollup store's batches: seq, heights, L1 height, bytes, commitment.")
    @OptionGroup var db: DBOptions
    @Option(help: "From this seq.") var from: UInt64 = 0
    @Option(help: "At most this many.") var limit = 1000

    func run() throws {
        let store = try db.open()
        try db.output({ try store.batches(from: from, limit: limit) }) {
            InspectedStore.humanRows(
                $0,
                [
                    ("seq", "seq"), ("first", "firstHeight"), ("last", "lastHeight"), ("L1 height", "l1Height"),
                    ("bytes", "size"), ("commitment", "commitment"),
                ])
        }
    }
}

struct DBBlobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blobs", abstract: "An L1 store's blobs of one rollup.")
    @OptionGroup var db: DBOptions
    @OptionGroup var names: DBRollupOptions
    @Option(help: "The rollup, by name or id.") var rollup: String
    @Option(help: "From this seq.") var from: UInt64 = 0
    @Option(help: "At most this many.") var limit = 1000

    func run() throws {
        let id = try names.id(rollup)
        let store = try db.open()
        try db.output({ try store.blobs(rollup: id, from: from, limit: limit) }) {
            InspectedStore.humanRows(
                $0,
                [
                    ("seq", "seq"), ("first", "firstHeight"), ("last", "lastHeight"), ("L1 height", "l1Height"),
                    ("bytes", "size"), ("commitment", "commitment"),
                ])
        }
    }
}

struct DBBlobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blob",
        abstract: "Write the exact posted bytes of one blob (L1 store) or batch (rollup store): a standard zstd frame.",
        discussion: "`zstd -d FILE` decodes it to the canonical batch payload.")
    @OptionGroup var db: DBOptions
    @OptionGroup var names: DBRollupOptions
    @Option(help: "The rollup, by name or id (L1 store).") var rollup: String?
    @Option(help: "The sequence number.") var seq: UInt64
    @Option(help: "Where to write the bytes.") var out: String

    func run() throws {
        let id = try rollup.map { try names.id($0) }
        let store = try db.open()
        try db.output(
            {
                let (frame, info) = try store.blobFrame(rollup: id, seq: seq)
                do { try Data(frame).write(to: URL(fileURLWithPath: out)) } catch {
                    throw OperatorError("cannot write \(out): \(error.localizedDescription)")
                }
                guard case .object(var json) = info else { return info }
                json["out"] = .string(out)
                return .object(json)
            }, human: { "wrote \(Human.scalar($0["size"] ?? .null)) bytes to \(out)" })
    }
}

struct DBOutputsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outputs", abstract: "An L1 store's outputs with their status as of its head.")
    @OptionGroup var db: DBOptions
    @OptionGroup var names: DBRollupOptions
    @Option(help: "Only this rollup, by name or id.") var rollup: String?

    func run() throws {
        let id = try rollup.map { try names.id($0) }
        let store = try db.open()
        try db.output({ try store.outputs(rollup: id) }) {
            InspectedStore.humanRows(
                $0,
                [
                    ("rollup", "rollup"), ("index", "index"), ("L2 height", "l2Height"), ("status", "status"),
                    ("L1 height", "l1Height"), ("window end", "windowEndsAt"), ("state root", "stateRoot"),
                ])
        }
    }
}

struct DBVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a store: headers, indices, the state tree rehashed, every block re-executed, every batch.",
        discussion:
            "A rollup store's rollup is found in the genesis file by the store's genesis hash. An L1 store: header chain, entries roots, blob commitments. Exits 1 at the first problem, named."
    )
    @OptionGroup var db: DBOptions
    @Option(help: "The genesis file the store was created from.") var genesis = "Genesis/devnet.json"
    @Flag(help: "Skip re-executing the blocks (structure, hashes and batches only).") var noReexecute = false
    @Flag(help: "No progress lines on standard error.") var quiet = false

    func run() throws {
        let store = try db.open()
        var report: VerifyReport?
        try db.output(
            {
                let genesis = store.kind == .rollup ? try loadGenesis(self.genesis) : nil
                let progress = Progress(enabled: !quiet && !db.json)
                defer { progress.finish() }
                let result = try store.verify(genesis: genesis, reexecute: !noReexecute, progress: progress.sink)
                report = result
                return result.json
            }, human: { _ in report?.human ?? "" })
        if report?.ok == false { throw ExitCode(1) }
    }
}

struct DBDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Where two stores of the same rollup (or two L1 stores) differ: first height, then table by table.")
    @OptionGroup var db: DBOptions
    @Option(help: "The other store's data directory.") var other: String

    func run() throws {
        let store = try db.open()
        var differ = false
        try db.output(
            {
                let json = try store.diff(other: try InspectedStore(datadir: other))
                differ = json["identical"]?.boolValue != true
                return json
            }, human: InspectedStore.humanDiff)
        if differ { throw ExitCode(2) }
    }
}
