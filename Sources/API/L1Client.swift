import API
import Config
import Foundation
import Primitives
import RPC
import Settlement
import StateMachine

/// A typed client of the L1 node's `l1_*` methods.
public struct L1Client: Sendable {
    /// How calls reach the L1: HTTP, or an in-process dispatcher serving `L1RPC`.
    public let rpc: any RPCTransport

    /// A client of the L1 node at `url`, over HTTP.
    public init(url: String, timeout: Duration = .seconds(10)) {
        var rpc = RPCClient(url: url)
        rpc.timeout = .seconds(Int64(timeout.components.seconds))
        self.rpc = rpc
    }

    /// A client over `transport` (e.g. an `RPCDispatcher` with the `l1_*` methods registered).
    public init(transport: any RPCTransport) { rpc = transport }

    /// Where calls go: the L1's URL, or "in process".
    public var url: String { rpc.endpoint }

    /// A posted blob as the L1 returns it.
    public struct PostedBlob: Sendable {
        public var header: BatchHeader
        public var frame: [UInt8]
        public var commitment: Hash
        public var l1Height: UInt64
    }

    /// An output and its status as of the L1 head.
    public struct OutputInfo: Sendable {
        public var index: UInt64
        public var output: Output
        public var proposer: PublicKey
        public var l1Height: UInt64
        public var windowEnd: UInt64
        public var status: String
        public var blocksLeft: UInt64
    }

    /// A rollup's row of `l1_status`.
    public struct RollupInfo: Sendable {
        public var daHeight: UInt64
        public var nextSeq: UInt64
        public var finalizedHeight: UInt64
        public var brokenAt: UInt64?
        public var permissionless: Bool
    }

    public struct Status: Sendable {
        public var height: UInt64
        public var hash: Hash
        public var rollups: [UInt32: RollupInfo]
    }

    static func hex(_ value: some CanonicalEncodable) -> JSONValue {
        .string("0x" + Hex.encode(value.canonicalBytes))
    }

    static func field<T>(_ json: JSONValue, _ key: String, _ parse: (JSONValue) -> T?) throws -> T {
        guard let v = json[key], let t = parse(v) else {
            throw RPCClient.TransportError.malformedResponse("field \(key) missing or malformed")
        }
        return t
    }

    static func hash(_ v: JSONValue) -> Hash? { v.stringValue.flatMap { try? Hash(hex: $0) } }

    public func blockNumber() async throws -> UInt64 {
        try Self.field(.object(["n": try await rpc.call(L1Method.blockNumber)]), "n") { $0.unsignedValue }
    }

    public func status() async throws -> Status {
        let json = try await rpc.call(L1Method.status)
        var rollups: [UInt32: RollupInfo] = [:]
        if case .array(let items)? = json["rollups"] {
            for item in items {
                let id = try Self.field(item, "id") { $0.unsignedValue }
                rollups[UInt32(id)] = RollupInfo(
                    daHeight: try Self.field(item, "daHeight") { $0.unsignedValue },
                    nextSeq: try Self.field(item, "blobs") { $0.unsignedValue },
                    finalizedHeight: try Self.field(item, "finalizedHeight") { $0.unsignedValue },
                    brokenAt: item["brokenAt"]?.unsignedValue,
                    permissionless: item["proposing"]?.stringValue == "permissionless")
            }
        }
        return Status(
            height: try Self.field(json, "height") { $0.unsignedValue }, hash: try Self.field(json, "hash", Self.hash),
            rollups: rollups)
    }

    /// Posts a blob; returns the L1 height that holds it (the original one for a re-post).
    public func postBlob(_ post: BlobPost) async throws -> (commitment: Hash, l1Height: UInt64, duplicate: Bool) {
        let json = try await rpc.call(L1Method.postBlob, [Self.hex(post)])
        return (
            try Self.field(json, "commitment", Self.hash), try Self.field(json, "l1Height") { $0.unsignedValue },
            json["duplicate"]?.boolValue ?? false
        )
    }

    public func blobs(rollup: RollupID, from seq: UInt64, limit: Int = 100) async throws -> [PostedBlob] {
        try await blobRecords(rollup: rollup, from: seq, limit: limit, data: true).map { info, item in
            PostedBlob(
                header: info.header, frame: try Self.field(item, "data") { $0.stringValue.flatMap { try? Hex.decode($0) } },
                commitment: info.commitment, l1Height: info.l1Height)
        }
    }

    /// `l1_getBlobs` read once: each record's header, commitment and height, with the item itself.
    func blobRecords(rollup: RollupID, from seq: UInt64, limit: Int, data: Bool) async throws -> [(
        BlobInfo, JSONValue
    )] {
        let json = try await rpc.call(
            L1Method.getBlobs, [.number(rollup.rawValue), .number(seq), .number(limit), .bool(data)])
        guard case .array(let items) = json else { throw RPCClient.TransportError.malformedResponse("not an array") }
        return try items.map { item in
            let info = BlobInfo(
                header: BatchHeader(
                    rollup: rollup, seq: try Self.field(item, "seq") { $0.unsignedValue },
                    firstHeight: try Self.field(item, "firstHeight") { $0.unsignedValue },
                    lastHeight: try Self.field(item, "lastHeight") { $0.unsignedValue }),
                commitment: try Self.field(item, "commitment", Self.hash),
                l1Height: try Self.field(item, "l1Height") { $0.unsignedValue })
            return (info, item)
        }
    }

    /// A blob's record without its frame.
    public struct BlobInfo: Sendable, Equatable {
        public var header: BatchHeader
        public var commitment: Hash
        public var l1Height: UInt64
    }

    /// Up to `limit` (≤ 1000) blob records of `rollup` from `seq`, without their frames.
    public func blobInfos(rollup: RollupID, from seq: UInt64, limit: Int = 1000) async throws -> [BlobInfo] {
        try await blobRecords(rollup: rollup, from: seq, limit: limit, data: false).map(\.0)
    }

    /// One blob with its frame, nil when the L1 has none at `seq`.
    public func blob(rollup: RollupID, seq: UInt64) async throws -> PostedBlob? {
        try await blobs(rollup: rollup, from: seq, limit: 1).first { $0.header.seq == seq }
    }

    public func proposeOutput(_ proposal: OutputProposal) async throws -> (index: UInt64, windowEnd: UInt64) {
        let json = try await rpc.call(L1Method.proposeOutput, [Self.hex(proposal)])
        return (
            try Self.field(json, "index") { $0.unsignedValue },
            try Self.field(json, "windowEndsAt") { $0.unsignedValue }
        )
    }

    public func outputs(rollup: RollupID, from index: UInt64 = 0) async throws -> [OutputInfo] {
        var all: [OutputInfo] = []
        var next = index
        while true {
            let json = try await rpc.call(L1Method.getOutputs, [.number(rollup.rawValue), .number(next), .number(1000)])
            guard case .array(let items) = json else {
                throw RPCClient.TransportError.malformedResponse("not an array")
            }
            for item in items {
                all.append(
                    OutputInfo(
                        index: try Self.field(item, "index") { $0.unsignedValue },
                        output: Output(
                            rollup: rollup, l2Height: try Self.field(item, "l2Height") { $0.unsignedValue },
                            blockHash: try Self.field(item, "blockHash", Self.hash),
                            stateRoot: try Self.field(item, "stateRoot", Self.hash),
                            outboxRoot: try Self.field(item, "outboxRoot", Self.hash)),
                        proposer: try Self.field(item, "proposer") {
                            $0.stringValue.flatMap { try? PublicKey(hex: $0) }
                        },
                        l1Height: try Self.field(item, "l1Height") { $0.unsignedValue },
                        windowEnd: try Self.field(item, "windowEndsAt") { $0.unsignedValue },
                        status: try Self.field(item, "status") { $0.stringValue },
                        blocksLeft: try Self.field(item, "blocksLeft") { $0.unsignedValue }))
            }
            if items.count < 1000 { return all }
            next = all.last!.index + 1
        }
    }

    /// What the L1 records about output `index` of `rollup`, or nil when there is none.
    public func fact(rollup: RollupID, index: UInt64) async throws -> L1OutputFact? {
        let json = try await rpc.call(L1Method.getOutputs, [.number(rollup.rawValue), .number(index), .number(1)])
        guard case .array(let items) = json, let item = items.first,
            item["index"]?.unsignedValue == index
        else { return nil }
        return L1OutputFact(
            outboxRoot: try Self.field(item, "outboxRoot", Self.hash),
            l2Height: try Self.field(item, "l2Height") { $0.unsignedValue },
            windowEnd: try Self.field(item, "windowEndsAt") { $0.unsignedValue },
            invalidated: item["status"]?.stringValue == "invalidated")
    }

    /// Submits a challenge; returns the L1's answer (a rejection throws `RPCError` with the reason).
    public func challenge(_ challenge: Challenge) async throws -> JSONValue {
        try await rpc.call(L1Method.challenge, [Self.hex(challenge)])
    }
}
