import API
import Chain
import L1Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// The read-only queries behind `tributary db …`. Every answer is JSON; the command renders it for
/// people unless `--json` is given.
extension InspectedStore {
    // MARK: stats

    /// Per table entries, depth, pages and bytes (as `mdb_stat -a`), the map and page picture, and the
    /// chain's head (rollup: height, state root, posted height; L1: height and each rollup's DA and
    /// finalized heights).
    /// With `l1`, the L1 node's store, a rollup store's stats add the rollup's finalized height and DA
    /// height as that L1 store records them (a rollup store does not record finality itself).
    public func stats(l1: InspectedStore? = nil) throws -> JSONValue {
        let info = try environment.info()
        var tables: [String: JSONValue] = [:]
        var tablePages = 0
        var freeList: (stat: TableStat, freePages: Int)?
        try environment.read { txn in
            freeList = try txn.freeList()
            for name in try txn.tableNames() {
                guard let s = try txn.stat(table: name) else { continue }
                tablePages += s.branchPages + s.leafPages + s.overflowPages
                tables[name] = .object([
                    "entries": .number(s.entries), "depth": .number(s.depth), "branchPages": .number(s.branchPages),
                    "leafPages": .number(s.leafPages), "overflowPages": .number(s.overflowPages),
                    "bytes": .number(s.bytes),
                ])
            }
        }
        let usedPages = info.lastPageNumber + 1
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as? Int) ?? nil
        var json: [String: JSONValue] = [
            "kind": .string(kind.rawValue), "tables": .object(tables), "mapSize": .number(info.mapSize),
            "pageSize": .number(info.pageSize), "usedPages": .number(usedPages),
            "usedBytes": .number(usedPages * info.pageSize), "tablePages": .number(tablePages),
            // Pages below the high-water mark that no table holds: the two meta pages, the main
            // database, the free list and pages freed by old transactions (reused by later writes).
            "otherPages": .number(max(0, usedPages - tablePages)),
            "freeMapBytes": .number(max(0, info.mapSize - usedPages * info.pageSize)),
            "lastTransaction": .number(info.lastTransactionID), "readers": .number(info.readersUsed),
            "maxReaders": .number(info.maxReaders),
        ]
        if let fileBytes { json["fileBytes"] = .number(fileBytes) }
        if let freeList {
            let s = freeList.stat
            json["freeList"] = .object([
                "entries": .number(s.entries), "depth": .number(s.depth), "branchPages": .number(s.branchPages),
                "leafPages": .number(s.leafPages), "overflowPages": .number(s.overflowPages),
                "freePages": .number(freeList.freePages),
            ])
        }
        switch kind {
        case .rollup:
            try environment.read { txn in
                guard let head = try txn.get(Meta.self, Meta.head).flatMap({ try? UInt64(canonicalBytes: $0) }) else {
                    return
                }
                json["head"] = .number(head)
                if let header = try txn.get(Headers.self, head) {
                    json["headHash"] = .string(header.hash.hex)
                    json["stateRoot"] = .string(header.stateRoot.hex)
                    json["outboxRoot"] = .string(header.outboxRoot.hex)
                }
                var posted: UInt64 = 0
                var batches: UInt64 = 0
                try txn.forEach(Batches.self, reverse: true) { seq, batch in
                    if batches == 0 { batches = seq + 1 }
                    guard batch.l1Height != 0 else { return true }
                    posted = batch.header.lastHeight
                    return false
                }
                json["postedHeight"] = .number(posted)
                json["batches"] = .number(batches)
            }
            if let l1 {
                try l1.require(.l1, for: "--l1-datadir")
                let rollup = try environment.read { try $0.get(Headers.self, 0)?.rollup }
                if let rollup, let row = try l1.l1RollupRow(rollup) {
                    json["finalizedHeight"] = row["finalizedHeight"]
                    json["l1DAHeight"] = row["daHeight"]
                }
            }
        case .l1:
            try environment.read { txn in
                guard let head = try txn.get(L1Meta.self, L1Meta.head).flatMap({ try? UInt64(canonicalBytes: $0) })
                else { return }
                json["head"] = .number(head)
                if let header = try txn.get(L1Headers.self, head) { json["headHash"] = .string(header.hash.hex) }
                var rollups: [JSONValue] = []
                try txn.forEach(L1Rollups.self) { id, state in
                    rollups.append(try Self.rollupRow(id, state, head: head, txn))
                    return true
                }
                json["rollups"] = .array(rollups)
            }
        case .unknown: break
        }
        return .object(json)
    }

    /// One rollup's row of an L1 store's stats: blobs, DA height, outputs, finalized height.
    static func rollupRow(_ id: RollupID, _ state: RollupL1State, head: UInt64, _ txn: ReadTransaction) throws
        -> JSONValue
    {
        var finalized: UInt64 = 0
        try txn.forEach(Outputs.self, prefix: id.canonicalBytes) { _, record in
            if record.status(atL1Height: head) == .finalized { finalized = record.output.l2Height }
            return true
        }
        return .object([
            "id": .number(id.rawValue), "blobs": .number(state.nextSeq), "daHeight": .number(state.daHeight),
            "outputs": .number(state.outputCount), "finalizedHeight": .number(finalized),
            "brokenAt": .number(state.brokenAt),
        ])
    }

    /// The L1 store's row for `rollup`, nil if it does not know the rollup.
    func l1RollupRow(_ rollup: RollupID) throws -> JSONValue? {
        try environment.read { txn in
            guard let head = try txn.get(L1Meta.self, L1Meta.head).flatMap({ try? UInt64(canonicalBytes: $0) }),
                let state = try txn.get(L1Rollups.self, rollup)
            else { return nil }
            return try Self.rollupRow(rollup, state, head: head, txn)
        }
    }

    public static func humanStats(_ json: JSONValue) -> String {
        var rows: [[String]] = []
        if case .object(let tables)? = json["tables"] {
            for name in tables.keys.sorted() {
                let t = tables[name]!
                rows.append(
                    [name]
                        + ["entries", "depth", "branchPages", "leafPages", "overflowPages", "bytes"].map {
                            Human.scalar(t[$0] ?? .null)
                        })
            }
        }
        var lines = [Human.table(["table", "entries", "depth", "branch", "leaf", "overflow", "bytes"], rows)]
        func n(_ key: String) -> String { Human.scalar(json[key] ?? .null) }
        lines.append(
            "map: \(n("mapSize")) bytes, used \(n("usedBytes")) bytes (\(n("usedPages")) pages of \(n("pageSize"))), "
                + "\(n("freeMapBytes")) bytes free in the map, readers \(n("readers"))")
        var pages = "pages: \(n("tablePages")) in tables, \(n("otherPages")) others below the high-water mark"
        if let free = json["freeList"] {
            pages +=
                "; free list: \(Human.scalar(free["freePages"] ?? .null)) free pages in \(Human.scalar(free["entries"] ?? .null)) entries (reused by later writes)"
        }
        lines.append(pages)
        if json["head"] != nil {
            var head = "head: \(n("head"))"
            if json["stateRoot"] != nil { head += ", state root \(n("stateRoot"))" }
            if json["postedHeight"] != nil { head += ", posted to the L1 up to \(n("postedHeight"))" }
            if json["finalizedHeight"] != nil { head += ", finalized up to \(n("finalizedHeight")) (L1 store)" }
            lines.append(head)
        }
        if case .array(let rollups)? = json["rollups"] {
            for r in rollups {
                lines.append(
                    "rollup \(Human.scalar(r["id"] ?? .null)): \(Human.scalar(r["blobs"] ?? .null)) blobs, DA height "
                        + "\(Human.scalar(r["daHeight"] ?? .null)), finalized height \(Human.scalar(r["finalizedHeight"] ?? .null))"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    // MARK: get / list

    /// The value under `key` in `table`, decoded (or as hex with `raw`).
    public func get(table: String, key: String, raw: Bool) throws -> JSONValue {
        let codec = TableCodec.of(table)
        let keyBytes = try codec.parseKey(key)
        let value = try environment.read { txn -> [UInt8]? in
            guard try txn.stat(table: table) != nil else {
                throw OperatorError("\(path) has no table \(table) (see `tributary db tables`)")
            }
            return try txn.rawGet(table: table, key: keyBytes)
        }
        guard let value else { throw OperatorError("\(table) has no key \(key)") }
        return try entry(codec, keyBytes, value, raw: raw)
    }

    func entry(_ codec: TableCodec, _ key: [UInt8], _ value: [UInt8], raw: Bool) throws -> JSONValue {
        if raw { return .object(["key": Render.hex(key), "value": Render.hex(value)]) }
        let shownKey = (try? codec.showKey(key)) ?? Render.hex(key)
        let shownValue: JSONValue
        do { shownValue = try codec.showValue(value) } catch {
            shownValue = .object(["undecodable": .string("\(error)"), "hex": Render.hex(value)])
        }
        return .object(["key": shownKey, "value": shownValue])
    }

    /// Up to `limit` entries of `table` from `from` (inclusive; backwards with `reverse`).
    public func list(table: String, from: String?, limit: Int, reverse: Bool, raw: Bool) throws -> JSONValue {
        let codec = TableCodec.of(table)
        let start = try from.map { try codec.parseKey($0) }
        var out: [JSONValue] = []
        try environment.read { txn in
            guard try txn.stat(table: table) != nil else {
                throw OperatorError("\(path) has no table \(table) (see `tributary db tables`)")
            }
            try txn.rawForEach(table: table, from: start, reverse: reverse) { key, value in
                out.append(try entry(codec, key, value, raw: raw))
                return out.count < limit
            }
        }
        return .array(out)
    }

    public static func humanEntries(_ json: JSONValue) -> String {
        guard case .array(let items) = json else { return humanEntry(json) }
        if items.isEmpty { return "(no entries)" }
        return items.map(humanEntry).joined(separator: "\n")
    }

    public static func humanEntry(_ json: JSONValue) -> String {
        let key = Human.scalar(json["key"] ?? .null)
        guard let value = json["value"] else { return key }
        switch value {
        case .object, .array:
            return ([key] + Human.lines(value, indent: "  ")).joined(separator: "\n")
        default:
            return "\(key)  \(Human.scalar(value))"
        }
    }

    // MARK: Chain objects

    /// The header at `height` (rollup or L1 store).
    public func header(_ height: UInt64) throws -> JSONValue {
        switch kind {
        case .rollup:
            guard let header = try environment.read({ try $0.get(Headers.self, height) }) else {
                throw OperatorError("no header at height \(height) (head \(try rollupHead() ?? 0))")
            }
            return .object(JSONForm.json(header))
        case .l1:
            guard let header = try environment.read({ try $0.get(L1Headers.self, height) }) else {
                throw OperatorError("no L1 header at height \(height) (head \(try l1Head() ?? 0))")
            }
            return .object(L1Block.json(header))
        case .unknown:
            throw OperatorError("\(path) is neither a rollup nor an L1 store")
        }
    }

    /// The block at `height` with its transactions and receipts (rollup) or the entries it accepted (L1,
    /// as `l1_getBlock` serves it).
    public func block(_ height: UInt64) throws -> JSONValue {
        switch kind {
        case .rollup:
            return try environment.read { txn in
                guard let header = try txn.get(Headers.self, height), let body = try txn.get(Bodies.self, height)
                else { throw OperatorError("no block at height \(height) (head \(try rollupHead() ?? 0))") }
                let receipts = try txn.get(Receipts.self, height)?.receipts ?? []
                var json = JSONForm.json(header)
                json["transactions"] = .array(
                    body.transactions.enumerated().map { i, tx in
                        var t = JSONForm.json(tx)
                        if i < receipts.count {
                            t["status"] = .string(Render.status(receipts[i].status))
                            t["feePaid"] = .number(receipts[i].feePaid)
                        }
                        return .object(t)
                    })
                if let claim = try txn.get(Claims.self, height) {
                    json["postedClaim"] = .object(JSONForm.json(claim.header))
                }
                return .object(json)
            }
        case .l1:
            return try environment.read { txn in
                guard let header = try txn.get(L1Headers.self, height), let body = try txn.get(L1Bodies.self, height)
                else { throw OperatorError("no L1 block at height \(height)") }
                return L1Block(header: header, entries: body.entries).json
            }
        case .unknown:
            throw OperatorError("\(path) is neither a rollup nor an L1 store")
        }
    }

    /// A transaction with where it was included and its receipt.
    public func transaction(_ id: Hash) throws -> JSONValue {
        try require(.rollup, for: "db tx")
        return try environment.read { txn in
            guard let location = try txn.get(TransactionIndex.self, id) else {
                throw OperatorError("transaction \(id) is not in this chain")
            }
            guard let header = try txn.get(Headers.self, location.height),
                let body = try txn.get(Bodies.self, location.height),
                Int(location.index) < body.transactions.count
            else {
                throw OperatorError("the index places \(id) at \(location.height)/\(location.index), which is missing")
            }
            let tx = body.transactions[Int(location.index)]
            var json = JSONForm.json(tx)
            json["blockHeight"] = .number(location.height)
            json["blockHash"] = .string(header.hash.hex)
            json["index"] = .number(location.index)
            if let receipts = try txn.get(Receipts.self, location.height)?.receipts,
                Int(location.index) < receipts.count
            {
                json["status"] = .string(Render.status(receipts[Int(location.index)].status))
                json["feePaid"] = .number(receipts[Int(location.index)].feePaid)
            }
            return .object(json)
        }
    }

    /// An account's nonce and balances at `height` (default: the head), with proofs against that
    /// block's state root when asked.
    public func account(
        _ address: Address, genesis: Genesis, assets: [AssetName], height: UInt64?, proof: Bool
    ) throws -> JSONValue {
        let chain = try chain(genesis: genesis)
        let assets = assets.isEmpty ? [chain.rollup.nativeAsset] : assets
        return try chain.withState(at: height) { view in
            var balances: [String: JSONValue] = [:]
            for asset in assets { balances[asset.rawValue] = .number(try view.accounts.balance(of: address, asset)) }
            var json: [String: JSONValue] = [
                "address": .string(address.hex), "nonce": .number(try view.accounts.nonce(of: address)),
                "balances": .object(balances), "height": .number(view.height),
                "stateRoot": .string(view.header.stateRoot.hex),
            ]
            if proof {
                var proofs: [String: JSONValue] = [:]
                let nonce = try view.proof(of: StateKey.nonce(address)).proof
                proofs["nonce"] = Render.hex(nonce.canonicalBytes)
                for asset in assets {
                    let p = try view.proof(of: StateKey.balance(address, asset)).proof
                    proofs["balance:" + asset.rawValue] = Render.hex(p.canonicalBytes)
                }
                json["proofs"] = .object(proofs)
            }
            return .object(json)
        }
    }

    /// Cross-rollup message tables do not exist yet: say so rather than invent data.
    /// The messages this rollup sent, from nonce `from`: each with the block that sent it.
    public func outbox(from nonce: UInt64, limit: Int) throws -> JSONValue {
        try require(.rollup, for: "db outbox")
        return try environment.read { txn in
            var out: [JSONValue] = []
            try txn.forEach(Outbox.self, from: nonce) { n, message in
                guard out.count < limit else { return false }
                var o = JSONForm.json(message)
                o["height"] = try txn.get(MessageHeights.self, n).map { .number($0) } ?? .null
                out.append(.object(o))
                return true
            }
            return .array(out)
        }
    }

    /// The messages relayed here, block by block from height `from`: each relay transaction's
    /// message, the output it was proven against, and what became of it.
    public func inbox(from height: UInt64, limit: Int) throws -> JSONValue {
        try require(.rollup, for: "db inbox")
        return try environment.read { txn in
            var out: [JSONValue] = []
            try txn.forEach(Bodies.self, from: max(height, 1)) { h, body in
                let receipts = try txn.get(Receipts.self, h)?.receipts ?? []
                for (i, tx) in body.transactions.enumerated() {
                    guard case .relayMessage(let message, _, let index) = tx.transaction.call else { continue }
                    var o = JSONForm.json(message)
                    o["relayedInBlock"] = .number(h)
                    o["outputIndex"] = .number(index)
                    o["relay"] = i < receipts.count ? .string("\(receipts[i].status)") : .null
                    if i < receipts.count, receipts[i].returnMessage != .zero {
                        o["returnMessage"] = .string(receipts[i].returnMessage.hex)
                    }
                    out.append(.object(o))
                    if out.count >= limit { return false }
                }
                return true
            }
            return .array(out)
        }
    }

    // MARK: Batches and blobs

    /// A rollup store's batch records.
    public func batches(from seq: UInt64, limit: Int) throws -> JSONValue {
        try require(.rollup, for: "db batches")
        var out: [JSONValue] = []
        try environment.read { txn in
            try txn.forEach(Batches.self, from: seq) { _, batch in
                out.append(Render.postedBatch(batch))
                return out.count < limit
            }
        }
        return .array(out)
    }

    /// An L1 store's blobs of `rollup`.
    public func blobs(rollup: RollupID, from seq: UInt64, limit: Int) throws -> JSONValue {
        try require(.l1, for: "db blobs")
        var out: [JSONValue] = []
        try environment.read { txn in
            try txn.forEach(Blobs.self, from: RollupIndexKey(rollup, seq)) { key, blob in
                guard key.rollup == rollup else { return false }
                out.append(L1BlobInfo(blob).json)
                return out.count < limit
            }
        }
        return .array(out)
    }

    /// The exact posted bytes of a blob (L1 store) or a batch (rollup store): one zstd frame.
    public func blobFrame(rollup: RollupID?, seq: UInt64) throws -> (frame: [UInt8], info: JSONValue) {
        switch kind {
        case .l1:
            guard let rollup else { throw OperatorError("--rollup is required for an L1 store") }
            guard let blob = try environment.read({ try $0.get(Blobs.self, RollupIndexKey(rollup, seq)) }) else {
                throw OperatorError("the L1 store has no blob \(seq) of rollup \(rollup)")
            }
            return (blob.frame, L1BlobInfo(blob).json)
        case .rollup:
            guard let batch = try environment.read({ try $0.get(Batches.self, seq) }) else {
                throw OperatorError("the rollup store has no batch \(seq)")
            }
            return (batch.frame, Render.postedBatch(batch))
        case .unknown:
            throw OperatorError("\(path) is neither a rollup nor an L1 store")
        }
    }

    /// An L1 store's outputs, with their status as of its head.
    public func outputs(rollup: RollupID?) throws -> JSONValue {
        try require(.l1, for: "db outputs")
        let head = try l1Head() ?? 0
        var out: [JSONValue] = []
        try environment.read { txn in
            try txn.forEach(Outputs.self, prefix: rollup?.canonicalBytes ?? []) { _, record in
                out.append(L1Output(record, height: head).json)
                return true
            }
        }
        return .array(out)
    }

    public static func humanRows(_ json: JSONValue, _ columns: [(String, String)]) -> String {
        guard case .array(let items) = json, !items.isEmpty else { return "(none)" }
        return Human.table(
            columns.map(\.0), items.map { item in columns.map { Human.scalar(item[$0.1] ?? .null) } })
    }
}
