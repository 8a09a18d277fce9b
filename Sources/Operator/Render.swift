import API
import Chain
import Config
import L1Chain
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// Readable JSON forms of the stored values the RPC does not serve (batch records, tree nodes,
/// receipts as stored); every value the RPC serves prints in its `JSONForm`, so a store and a node
/// print it alike.
public enum Render {
    public static func hex(_ bytes: some Collection<UInt8>) -> JSONValue { .string("0x" + Hex.encode(bytes)) }

    public static func status(_ status: ReceiptStatus) -> String { "\(status)" }

    public static func receipt(_ receipt: Receipt) -> JSONValue {
        .object([
            "transaction": .string(receipt.transaction.hex), "status": .string(status(receipt.status)),
            "feePaid": .number(receipt.feePaid),
            "message": receipt.message == .zero ? .null : .string(receipt.message.hex),
            "returnMessage": receipt.returnMessage == .zero ? .null : .string(receipt.returnMessage.hex),
        ])
    }

    public static func batchHeader(_ header: BatchHeader) -> [String: JSONValue] {
        [
            "rollup": .number(header.rollup.rawValue), "seq": .number(header.seq),
            "firstHeight": .number(header.firstHeight), "lastHeight": .number(header.lastHeight),
        ]
    }

    public static func postedBatch(_ batch: PostedBatch) -> JSONValue {
        var json = batchHeader(batch.header)
        json["l1Height"] = .number(batch.l1Height)
        json["posted"] = .bool(batch.l1Height != 0)
        json["size"] = .number(batch.frame.count)
        json["commitment"] = .string(batch.commitment.hex)
        return .object(json)
    }

    public static func node(_ node: Node) -> JSONValue {
        switch node {
        case .leaf(let leaf):
            return .object([
                "type": .string("leaf"), "key": .string(leaf.key.hex), "valueHash": .string(leaf.valueHash.hex),
                "valueVersion": .number(leaf.valueVersion), "hash": .string(leaf.hash.hex),
            ])
        case .internal(let inner):
            var children: [String: JSONValue] = [:]
            for (n, child) in inner.children.enumerated() {
                guard let child else { continue }
                children[String(n, radix: 16)] = .object([
                    "hash": .string(child.hash.hex), "version": .number(child.version), "leaf": .bool(child.isLeaf),
                ])
            }
            return .object([
                "type": .string("internal"), "hash": .string(inner.hash.hex), "children": .object(children),
            ])
        }
    }

    public static func rootRecord(_ root: RootRecord) -> JSONValue {
        var json: [String: JSONValue] = ["hash": .string(root.hash.hex)]
        if let node = root.node { json["nodeVersion"] = .number(node.version) }
        return .object(json)
    }
}

/// Renders JSON for people: `key: value` lines for objects, one line per element for arrays.
public enum Human {
    public static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .bool(let b): return b ? "yes" : "no"
        case .integer(let i): return String(i)
        case .unsigned(let u): return String(u)
        case .fraction(let d): return String(d)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(scalar).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0)=\(scalar(o[$0]!))" }.joined(separator: " ") + "}"
        }
    }

    /// An indented listing of a value (objects as `key: value`, nested values indented).
    public static func lines(_ value: JSONValue, indent: String = "") -> [String] {
        switch value {
        case .object(let o):
            return o.keys.sorted().flatMap { key -> [String] in
                let v = o[key]!
                switch v {
                case .object(let inner) where !inner.isEmpty:
                    return ["\(indent)\(key):"] + lines(v, indent: indent + "  ")
                case .array(let items) where items.contains(where: { if case .object = $0 { true } else { false } }):
                    return ["\(indent)\(key): \(items.count)"]
                        + items.enumerated().flatMap { i, item in
                            ["\(indent)  [\(i)]"] + lines(item, indent: indent + "    ")
                        }
                default:
                    return ["\(indent)\(key): \(scalar(v))"]
                }
            }
        case .array(let items):
            return items.flatMap { lines($0, indent: indent) }
        default:
            return [indent + scalar(value)]
        }
    }

    /// A table with right-aligned columns except the first.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[min(i, widths.count - 1)] - cell.count))
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
