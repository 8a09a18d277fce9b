import API
import Chain
import Config
import L1Chain
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// How one table's keys are typed on the command line and how its keys and values are shown.
public struct TableCodec: Sendable {
    /// What a key looks like on the command line (for help and errors).
    public var keyForm: String
    /// Parses a command-line key into the stored key bytes.
    public var parseKey: @Sendable (String) throws -> [UInt8]
    public var showKey: @Sendable ([UInt8]) throws -> JSONValue
    public var showValue: @Sendable ([UInt8]) throws -> JSONValue

    /// Whether `table` has a codec of its own (every table of both stores has).
    public static func decodes(_ table: String) -> Bool { known[table] != nil }

    /// The codec of `table`; unknown tables show and take raw hex.
    public static func of(_ table: String) -> TableCodec { known[table] ?? raw }

    static let raw = TableCodec(
        keyForm: "0x-prefixed hex bytes", parseKey: parseHex, showKey: { Render.hex($0) }, showValue: { Render.hex($0) }
    )

    static func decode<T: StorageCodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try T(storageBytes: $0) }
    }

    static func encode<T: StorageCodable>(_ value: T) -> [UInt8] { value.withStorageBytes { Array($0) } }

    @Sendable static func parseHex(_ text: String) throws -> [UInt8] {
        guard text.hasPrefix("0x") else { throw OperatorError("a raw key is 0x-prefixed hex, got \(text)") }
        do { return try Hex.decode(text) } catch { throw OperatorError("\(text) is not hex: \(error)") }
    }

    @Sendable static func parseU64(_ text: String) throws -> UInt64 {
        guard let n = UInt64(text) else { throw OperatorError("\(text) is not a non-negative integer") }
        return n
    }

    @Sendable static func parseHash(_ text: String) throws -> Hash {
        do { return try Hash(hex: text) } catch { throw OperatorError("\(text) is not a 32-byte hex hash: \(error)") }
    }

    /// `rollup:index`.
    @Sendable static func parsePair(_ text: String) throws -> RollupIndexKey {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let r = UInt32(parts[0]), let i = UInt64(parts[1]) else {
            throw OperatorError("\(text) is not ROLLUP:INDEX (e.g. 1:0)")
        }
        return RollupIndexKey(RollupID(r), i)
    }

    static func height(_ form: String = "height") -> TableCodec {
        TableCodec(
            keyForm: form,
            parseKey: { text in text.hasPrefix("0x") ? try parseHex(text) : encode(try parseU64(text)) },
            showKey: { .number(try decode(UInt64.self, $0)) }, showValue: { Render.hex($0) })
    }

    static func with(_ base: TableCodec, value: @escaping @Sendable ([UInt8]) throws -> JSONValue) -> TableCodec {
        var codec = base
        codec.showValue = value
        return codec
    }

    static let hashKey = TableCodec(
        keyForm: "0x-prefixed 32-byte hash", parseKey: { encode(try parseHash($0)) },
        showKey: { .string(try decode(Hash.self, $0).hex) }, showValue: { Render.hex($0) })

    static let nameKey = TableCodec(
        keyForm: "name", parseKey: { Array($0.utf8) }, showKey: { .string(String(decoding: $0, as: UTF8.self)) },
        showValue: { bytes in
            switch bytes.count {
            case 8: return .number(try decode(UInt64.self, bytes))
            case 32: return .string(try decode(Hash.self, bytes).hex)
            default: return Render.hex(bytes)
            }
        })

    static let pairKey = TableCodec(
        keyForm: "ROLLUP:INDEX",
        parseKey: { text in text.hasPrefix("0x") ? try parseHex(text) : encode(try parsePair(text)) },
        showKey: { bytes in
            let k = try decode(RollupIndexKey.self, bytes)
            return .string("\(k.rollup.rawValue):\(k.index)")
        }, showValue: { Render.hex($0) })

    static let known: [String: TableCodec] = [
        Meta.name: nameKey,
        Outbox.name: with(height("nonce")) { .object(JSONForm.json(try decode(Message.self, $0))) },
        OutboxNodes.name: TableCodec(
            keyForm: "LEVEL:INDEX (the subtree of 2^LEVEL entries from INDEX << LEVEL)",
            parseKey: { text in
                if text.hasPrefix("0x") { return try parseHex(text) }
                let parts = text.split(separator: ":")
                guard parts.count == 2, let level = UInt8(parts[0]), level < 64, let index = UInt64(parts[1]) else {
                    throw OperatorError("\(text) is not LEVEL:INDEX (e.g. 0:3)")
                }
                return OutboxNodes.key(level: Int(level), index: index)
            },
            showKey: { bytes in
                guard bytes.count == 9 else { throw OperatorError("an outbox_nodes key of \(bytes.count) bytes") }
                return .string("\(bytes[0]):\(try decode(UInt64.self, Array(bytes[1...])))")
            },
            showValue: { .string(try decode(Hash.self, $0).hex) }),
        MessageIndex.name: with(hashKey) { bytes in
            let location = try decode(TransactionLocation.self, bytes)
            return .object(["nonce": .number(location.height)])
        },
        MessageHeights.name: with(height("nonce")) { .number(try decode(UInt64.self, $0)) },
        OutboxCounts.name: with(height()) { .number(try decode(UInt64.self, $0)) },
        L1FactsTable.name: with(pairKey) { bytes in
            let fact = try decode(L1OutputFact.self, bytes)
            return .object([
                "outboxRoot": .string(fact.outboxRoot.hex), "l2Height": .number(fact.l2Height),
                "windowEndsAt": .number(fact.windowEnd), "invalidated": .bool(fact.invalidated),
            ])
        },
        L1Meta.name: nameKey,
        Headers.name: with(height()) { .object(JSONForm.json(try decode(BlockHeader.self, $0))) },
        BlockHashes.name: with(hashKey) { .number(try decode(UInt64.self, $0)) },
        Bodies.name: with(height()) { .array(try decode(BlockBody.self, $0).transactions.map { .object(JSONForm.json($0)) }) },
        Receipts.name: with(height()) { .array(try decode(BlockReceipts.self, $0).receipts.map(Render.receipt)) },
        TransactionIndex.name: with(hashKey) { bytes in
            let l = try decode(TransactionLocation.self, bytes)
            return .object(["height": .number(l.height), "index": .number(l.index)])
        },
        StateNodes.name: TableCodec(
            keyForm: "VERSION:NIBBLES (e.g. 5: for a root, 5:a3 below it)",
            parseKey: { text in
                if text.hasPrefix("0x") { return try parseHex(text) }
                let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let version = UInt64(parts[0]), parts[1].count <= 64,
                    parts[1].allSatisfy(\.isHexDigit)
                else { throw OperatorError("\(text) is not VERSION:NIBBLES") }
                let nibbles = String(parts[1]).lowercased()
                let padded = nibbles + String(repeating: "0", count: 64 - nibbles.count)
                let path = NibblePath(key: try parseHash(padded), count: nibbles.count)
                return encode(NodeKey(version: version, path: path))
            },
            showKey: { bytes in
                let key = try decode(NodeKey.self, bytes)
                return .string("\(key.version):\(key.path)")
            },
            showValue: { Render.node(try decode(Node.self, $0)) }),
        StateValues.name: TableCodec(
            keyForm: "VERSION:0xKEYHASH",
            parseKey: { text in
                if text.hasPrefix("0x") { return try parseHex(text) }
                let parts = text.split(separator: ":")
                guard parts.count == 2, let version = UInt64(parts[0]) else {
                    throw OperatorError("\(text) is not VERSION:0xKEYHASH")
                }
                return encode(StateValueKey(version: version, key: try parseHash(String(parts[1]))))
            },
            showKey: { bytes in
                let key = try decode(StateValueKey.self, bytes)
                return .string("\(key.version):\(key.key.hex)")
            },
            showValue: { bytes in
                bytes.count == 8 ? .number(try decode(UInt64.self, bytes)) : Render.hex(bytes)
            }),
        StateStale.name: with(height("version")) { bytes in
            let stale = try decode(StaleEntries.self, bytes)
            return .array(
                stale.entries.map { entry in
                    switch entry {
                    case .node(let key): return .string("node \(key.version):\(key.path)")
                    case .value(let key): return .string("value \(key.version):\(key.key.hex)")
                    }
                })
        },
        StateRoots.name: with(height("version")) { Render.rootRecord(try decode(RootRecord.self, $0)) },
        Batches.name: with(height("seq")) { Render.postedBatch(try decode(PostedBatch.self, $0)) },
        Claims.name: with(height()) { .object(JSONForm.json(try decode(Block.self, $0), full: true)) },
        L1Headers.name: with(height()) { .object(L1Block.json(try decode(L1BlockHeader.self, $0))) },
        L1Bodies.name: with(height()) { .array(try decode(L1Body.self, $0).entries.map(L1Block.json)) },
        Blobs.name: with(pairKey) { L1BlobInfo(try decode(BlobRecord.self, $0)).json },
        BlobHeights.name: with(pairKey) { .number(try decode(UInt64.self, $0)) },
        Outputs.name: with(pairKey) { L1Output.json(try decode(OutputRecord.self, $0), height: nil) },
        OutputWindows.name: TableCodec(
            keyForm: "WINDOWEND:ROLLUP:INDEX",
            parseKey: { text in
                if text.hasPrefix("0x") { return try parseHex(text) }
                let parts = text.split(separator: ":")
                guard parts.count == 3, let end = UInt64(parts[0]), let r = UInt32(parts[1]), let i = UInt64(parts[2])
                else { throw OperatorError("\(text) is not WINDOWEND:ROLLUP:INDEX") }
                return encode(WindowKey(windowEnd: end, rollup: RollupID(r), index: i))
            },
            showKey: { bytes in
                let k = try decode(WindowKey.self, bytes)
                return .string("\(k.windowEnd):\(k.rollup.rawValue):\(k.index)")
            }, showValue: { _ in .null }),
        L1Rollups.name: TableCodec(
            keyForm: "rollup id",
            parseKey: { text in
                guard let r = UInt32(text) else { throw OperatorError("\(text) is not a rollup id") }
                return encode(RollupID(r))
            },
            showKey: { .number(try decode(RollupID.self, $0).rawValue) },
            showValue: { bytes in
                let s = try decode(RollupL1State.self, bytes)
                return .object([
                    "nextSeq": .number(s.nextSeq), "daHeight": .number(s.daHeight),
                    "outputCount": .number(s.outputCount),
                    "brokenAt": .number(s.brokenAt), "lastProposerL1Height": .number(s.lastProposerL1Height),
                ])
            }),
        Balances.name: TableCodec(
            keyForm: "0x-prefixed address",
            parseKey: { text in
                do { return encode(try Address(hex: text)) } catch { throw OperatorError("\(text) is not an address") }
            },
            showKey: { .string(try decode(Address.self, $0).hex) },
            showValue: { .number(try decode(UInt64.self, $0)) }),
        Challenges.name: with(hashKey) { bytes in
            let c = try decode(ChallengeRecord.self, bytes)
            return .object([
                "rollup": .number(c.rollup.rawValue), "outputIndex": .number(c.outputIndex), "kind": .string(c.kind),
                "challenger": .string(c.challenger.hex), "l1Height": .number(c.l1Height), "reason": .string(c.reason),
                "invalidated": .number(c.invalidated), "payout": .number(c.payout),
            ])
        },
    ]
}
