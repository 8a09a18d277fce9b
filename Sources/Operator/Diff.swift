import Chain
import L1Chain
import Config
import Primitives
import Settlement
import StateTree
import Storage

extension InspectedStore {
    /// The height (or L1 height) an entry belongs to, when a table is keyed or valued by one; nil for
    /// entries compared regardless of height.
    static func entryHeight(table: String, key: [UInt8], value: [UInt8]) -> UInt64? {
        func u64(_ bytes: some Collection<UInt8>) -> UInt64? {
            guard bytes.count >= 8 else { return nil }
            return bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        switch table {
        case Headers.name, Bodies.name, Receipts.name, StateStale.name, StateRoots.name, Claims.name, StateNodes.name,
            StateValues.name, L1Headers.name, L1Bodies.name:
            return u64(key)
        case BlockHashes.name, TransactionIndex.name:
            return u64(value)
        case Batches.name:
            return (try? TableCodec.decode(PostedBatch.self, value))?.header.lastHeight
        default:
            return nil
        }
    }

    /// Where this store and `other` (the same rollup, or two L1 stores) differ: the first height
    /// whose header differs, and per table the entries (up to the common height) only one side has
    /// or that differ.
    public func diff(other: InspectedStore) throws -> JSONValue {
        guard kind == other.kind, kind != .unknown else {
            throw OperatorError(
                "\(path) is \(kind.rawValue) and \(other.path) is \(other.kind.rawValue): diff compares two stores of one kind"
            )
        }
        let headerTable = kind == .rollup ? Headers.name : L1Headers.name
        let (mine, theirs) =
            kind == .rollup ? (try rollupHead(), try other.rollupHead()) : (try l1Head(), try other.l1Head())
        let common = min(mine ?? 0, theirs ?? 0)
        var json: [String: JSONValue] = [
            "kind": .string(kind.rawValue), "head": .number(mine ?? 0), "otherHead": .number(theirs ?? 0),
            "commonHeight": .number(common),
        ]
        if kind == .rollup {
            let genesis: [UInt8]? = try environment.read { try $0.get(Meta.self, Meta.genesis) }
            let otherGenesis: [UInt8]? = try other.environment.read { try $0.get(Meta.self, Meta.genesis) }
            guard genesis == otherGenesis else {
                throw OperatorError("the two stores hold different rollups (their genesis blocks differ)")
            }
        }
        // The first differing header.
        var first: UInt64?
        var height: UInt64 = 0
        while height <= common, first == nil {
            let end = min(common, height + 1023)
            let a = try environment.read { txn in
                try (height...end).map { try txn.rawGet(table: headerTable, key: TableCodec.encode($0)) }
            }
            let b = try other.environment.read { txn in
                try (height...end).map { try txn.rawGet(table: headerTable, key: TableCodec.encode($0)) }
            }
            if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                first = height + UInt64(i)
            }
            height = end + 1
        }
        if let first { json["firstDifferentHeight"] = .number(first) }

        // Table by table, entries at or below the common height.
        let names = Set(try environment.tableNames()).union(try other.environment.tableNames()).sorted()
        var tables: [String: JSONValue] = [:]
        for table in names {
            var a = EntryStream(store: self, table: table, height: common)
            var b = EntryStream(store: other, table: table, height: common)
            var onlyHere = 0
            var onlyThere = 0
            var different = 0
            var firstKey: [UInt8]?
            while true {
                let x = try a.peek(), y = try b.peek()
                if x == nil, y == nil { break }
                if let x, y == nil || x.key.lexicographicallyPrecedes(y!.key) {
                    onlyHere += 1
                    firstKey = firstKey ?? x.key
                    a.advance()
                } else if let y, x == nil || y.key.lexicographicallyPrecedes(x!.key) {
                    onlyThere += 1
                    firstKey = firstKey ?? y.key
                    b.advance()
                } else {
                    if x!.value != y!.value {
                        different += 1
                        firstKey = firstKey ?? x!.key
                    }
                    a.advance()
                    b.advance()
                }
            }
            guard onlyHere + onlyThere + different > 0 else { continue }
            let codec = TableCodec.of(table)
            tables[table] = .object([
                "onlyHere": .number(onlyHere), "onlyInOther": .number(onlyThere), "different": .number(different),
                "firstKey": firstKey.map { (try? codec.showKey($0)) ?? Render.hex($0) } ?? .null,
            ])
        }
        json["tables"] = .object(tables)
        json["identical"] = .bool(first == nil && tables.isEmpty)
        return .object(json)
    }

    public static func humanDiff(_ json: JSONValue) -> String {
        var lines: [String] = []
        lines.append(
            "heads: \(Human.scalar(json["head"] ?? .null)) here, \(Human.scalar(json["otherHead"] ?? .null)) in the other store; compared up to \(Human.scalar(json["commonHeight"] ?? .null))"
        )
        if json["identical"]?.boolValue == true {
            lines.append("identical up to the common height")
            return lines.joined(separator: "\n")
        }
        if let first = json["firstDifferentHeight"] {
            lines.append("first different height: \(Human.scalar(first))")
        } else {
            lines.append("every header up to the common height is the same")
        }
        if case .object(let tables)? = json["tables"] {
            let rows = tables.keys.sorted().map { name -> [String] in
                let t = tables[name]!
                return [name]
                    + ["onlyHere", "onlyInOther", "different", "firstKey"].map { Human.scalar(t[$0] ?? .null) }
            }
            lines.append(Human.table(["table", "only here", "only other", "different", "first key"], rows))
        }
        return lines.joined(separator: "\n")
    }
}

/// The entries of one table at or below a height (all entries of tables without heights, never the
/// head pointer), in key order, read in chunks of `chunkEntries` per read transaction.
struct EntryStream {
    let store: InspectedStore
    let table: String
    let height: UInt64
    var buffer: [(key: [UInt8], value: [UInt8])] = []
    var index = 0
    var resume: [UInt8]?
    var exhausted = false

    init(store: InspectedStore, table: String, height: UInt64) {
        self.store = store
        self.table = table
        self.height = height
    }

    mutating func peek() throws -> (key: [UInt8], value: [UInt8])? {
        while index >= buffer.count {
            if exhausted { return nil }
            try refill()
        }
        return buffer[index]
    }

    mutating func advance() { index += 1 }

    mutating func refill() throws {
        buffer = []
        index = 0
        var scanned = 0
        var last: [UInt8]?
        let (table, height, limit, start) = (self.table, self.height, store.chunkEntries, resume)
        var collected: [(key: [UInt8], value: [UInt8])] = []
        try store.environment.read { txn in
            try txn.rawForEach(table: table, from: start, reverse: false) { key, value in
                if let start, key == start { return true }
                if scanned == limit { return false }
                scanned += 1
                last = key
                if table == Meta.name || table == L1Meta.name, key == Array("head".utf8) { return true }
                if let h = InspectedStore.entryHeight(table: table, key: key, value: value), h > height { return true }
                collected.append((key, value))
                return true
            }
        }
        buffer = collected
        if let last { resume = last }
        exhausted = scanned < limit
    }
}
