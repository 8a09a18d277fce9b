import Config
import L1Chain
import Primitives
import RPC
import Settlement
import StateMachine

// The `l1_*` namespace (docs/rpc.md), written once: its result types (each with its one JSON
// form), the protocol every implementation of the namespace conforms to — the L1 node's server
// (`L1RPC`), the typed client over HTTP or in process (`L1Client`) — and the binding that serves
// any implementation's methods from JSON-RPC requests.

/// The L1 node's methods, typed. The server implements them over its store; `L1Client` implements
/// them by calling a server; `register(into:)` serves any implementation over JSON-RPC.
public protocol L1API: Sendable {
    func blockNumber() async throws -> UInt64
    /// The block at `height` (nil: the head), nil when there is none.
    func block(at height: UInt64?) async throws -> L1Block?
    func postBlob(_ post: BlobPost) async throws -> PostedBlobReceipt
    /// The blob `seq` of `rollup` with its frame, nil when there is none.
    func blob(rollup: RollupSelector, seq: UInt64) async throws -> L1Blob?
    /// Up to `limit` (≤ 100, at most 16 MiB of frames) blobs of `rollup` from `seq`, with frames.
    func blobs(rollup: RollupSelector, from seq: UInt64, limit: UInt64?) async throws -> [L1Blob]
    /// Up to `limit` (≤ 1000) blob records of `rollup` from `seq`, without their frames.
    func blobInfos(rollup: RollupSelector, from seq: UInt64, limit: UInt64?) async throws -> [L1BlobInfo]
    func proposeOutput(_ proposal: OutputProposal) async throws -> ProposedOutput
    /// Up to `limit` (≤ 1000) outputs of `rollup` from index `from`, with their status at the head.
    func outputs(rollup: RollupSelector, from index: UInt64, limit: UInt64?) async throws -> [L1Output]
    /// Submits a challenge; a lost one throws the L1's `RPCError` (its data says what was forfeited).
    func challenge(_ challenge: Challenge) async throws -> ChallengeWon
    func challengeRecord(_ id: Hash) async throws -> ChallengeInfo?
    func balance(of address: Address) async throws -> UInt64
    func status() async throws -> L1Status
}

// MARK: Result types

/// An L1 block: its header and the entries it accepted (`l1_getBlock`, `db block` of an L1 store).
public struct L1Block: APIValue, Equatable {
    public var header: L1BlockHeader
    public var entries: [L1Entry]

    public init(header: L1BlockHeader, entries: [L1Entry]) {
        self.header = header
        self.entries = entries
    }

    public var json: JSONValue {
        var form = Self.json(header)
        form["transactions"] = .array(entries.map(Self.json))
        return .object(form)
    }

    /// Reads the block and checks what the form repeats: the header's hash, and its entries root
    /// against the entries.
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "L1 block")
        header = L1BlockHeader(
            height: try f.unsigned("height"), parent: try f.hex("parent"), timestamp: try f.unsigned("timestamp"),
            entriesRoot: try f.hex("entriesRoot"))
        entries = try f.array("transactions").map(Self.entry)
        guard try f.hex("hash", as: Hash.self) == header.hash else {
            throw RPCClient.TransportError.malformedResponse("L1 block \(header.height): its hash is not its header's")
        }
        guard MerkleList.root(entries.map(\.id)) == header.entriesRoot else {
            throw RPCClient.TransportError.malformedResponse(
                "L1 block \(header.height): its entries do not give its entries root")
        }
    }

    public static func json(_ header: L1BlockHeader) -> [String: JSONValue] {
        [
            "height": .number(header.height), "hash": .string(header.hash.hex), "parent": .string(header.parent.hex),
            "timestamp": .number(header.timestamp), "entriesRoot": .string(header.entriesRoot.hex),
        ]
    }

    public static func json(_ entry: L1Entry) -> JSONValue {
        switch entry {
        case .blob(let header, let commitment, let size, let signature):
            return .object([
                "type": .string("postBlob"), "id": .string(entry.id.hex), "rollup": .number(header.rollup.rawValue),
                "seq": .number(header.seq), "firstHeight": .number(header.firstHeight),
                "lastHeight": .number(header.lastHeight), "commitment": .string(commitment.hex), "size": .number(size),
                "signature": .string(signature.hex),
            ])
        case .output(let index, let proposal):
            let o = proposal.output
            return .object([
                "type": .string("proposeOutput"), "id": .string(entry.id.hex), "rollup": .number(o.rollup.rawValue),
                "index": .number(index), "l2Height": .number(o.l2Height), "blockHash": .string(o.blockHash.hex),
                "stateRoot": .string(o.stateRoot.hex), "outboxRoot": .string(o.outboxRoot.hex),
                "outputRoot": .string(o.root.hex), "parent": .string(proposal.parent.hex),
                "proposer": .string(proposal.proposer.hex), "signature": .string(proposal.signature.hex),
            ])
        case .challenge(let id, let rollup, let outputIndex, let kind, let challenger, let invalidated):
            return .object([
                "type": .string("challenge"), "id": .string(entry.id.hex), "challenge": .string(id.hex),
                "verdict": .string("won"), "rollup": .number(rollup.rawValue), "outputIndex": .number(outputIndex),
                "kind": .string(kind), "challenger": .string(challenger.hex), "invalidated": .number(invalidated),
            ])
        case .lostChallenge(let id, let rollup, let outputIndex, let kind, let challenger, let forfeited):
            return .object([
                "type": .string("challenge"), "id": .string(entry.id.hex), "challenge": .string(id.hex),
                "verdict": .string("lost"), "rollup": .number(rollup.rawValue), "outputIndex": .number(outputIndex),
                "kind": .string(kind), "challenger": .string(challenger.hex), "bondForfeited": .number(forfeited),
            ])
        }
    }

    /// Reads one entry and checks its id.
    static func entry(_ json: JSONValue) throws -> L1Entry {
        let f = try JSONFields(json, "L1 block entry")
        let entry: L1Entry
        switch try f.string("type") {
        case "postBlob":
            entry = .blob(
                header: BatchHeader(
                    rollup: try f.rollup("rollup"), seq: try f.unsigned("seq"), firstHeight: try f.unsigned("firstHeight"),
                    lastHeight: try f.unsigned("lastHeight")),
                commitment: try f.hex("commitment"), size: try f.unsigned("size"), signature: try f.hex("signature"))
        case "proposeOutput":
            entry = .output(
                index: try f.unsigned("index"),
                proposal: OutputProposal(
                    output: Output(
                        rollup: try f.rollup("rollup"), l2Height: try f.unsigned("l2Height"),
                        blockHash: try f.hex("blockHash"), stateRoot: try f.hex("stateRoot"),
                        outboxRoot: try f.hex("outboxRoot")),
                    parent: try f.hex("parent"), proposer: try f.hex("proposer"), signature: try f.hex("signature")))
        case "challenge":
            let (id, rollup, index) = (try f.hex("challenge", as: Hash.self), try f.rollup("rollup"), try f.unsigned("outputIndex"))
            let (kind, challenger) = (try f.string("kind"), try f.hex("challenger", as: PublicKey.self))
            switch try f.string("verdict") {
            case "won":
                entry = .challenge(
                    id: id, rollup: rollup, outputIndex: index, kind: kind, challenger: challenger,
                    invalidated: try f.unsigned("invalidated"))
            case "lost":
                entry = .lostChallenge(
                    id: id, rollup: rollup, outputIndex: index, kind: kind, challenger: challenger,
                    bondForfeited: try f.unsigned("bondForfeited"))
            default: throw f.malformed("verdict")
            }
        default: throw f.malformed("type")
        }
        guard try f.hex("id", as: Hash.self) == entry.id else { throw f.malformed("id") }
        return entry
    }
}

/// A blob's record without its frame (`l1_getBlobs` with `data` false).
public struct L1BlobInfo: APIValue, Equatable {
    public var header: BatchHeader
    public var commitment: Hash
    public var signature: Signature
    public var l1Height: UInt64
    /// The frame's size in bytes.
    public var size: UInt64

    public init(header: BatchHeader, commitment: Hash, signature: Signature, l1Height: UInt64, size: UInt64) {
        self.header = header
        self.commitment = commitment
        self.signature = signature
        self.l1Height = l1Height
        self.size = size
    }

    public init(_ record: BlobRecord) {
        self.init(
            header: record.header, commitment: record.commitment, signature: record.signature,
            l1Height: record.l1Height, size: UInt64(record.frame.count))
    }

    var fields: [String: JSONValue] {
        [
            "rollup": .number(header.rollup.rawValue), "seq": .number(header.seq),
            "firstHeight": .number(header.firstHeight), "lastHeight": .number(header.lastHeight),
            "commitment": .string(commitment.hex), "signature": .string(signature.hex),
            "l1Height": .number(l1Height), "size": .number(size),
        ]
    }

    public var json: JSONValue { .object(fields) }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "blob record")
        self.init(
            header: BatchHeader(
                rollup: try f.rollup("rollup"), seq: try f.unsigned("seq"), firstHeight: try f.unsigned("firstHeight"),
                lastHeight: try f.unsigned("lastHeight")),
            commitment: try f.hex("commitment"), signature: try f.hex("signature"), l1Height: try f.unsigned("l1Height"),
            size: try f.unsigned("size"))
    }
}

/// A posted blob with its frame (`l1_getBlob`, `l1_getBlobs`).
public struct L1Blob: APIValue, Equatable {
    public var info: L1BlobInfo
    public var frame: [UInt8]

    public init(_ record: BlobRecord) {
        info = L1BlobInfo(record)
        frame = record.frame
    }

    public var header: BatchHeader { info.header }
    public var commitment: Hash { info.commitment }
    public var l1Height: UInt64 { info.l1Height }

    public var json: JSONValue {
        var o = info.fields
        o["data"] = .string("0x" + Hex.encode(frame))
        return .object(o)
    }

    public init(json: JSONValue) throws {
        info = try L1BlobInfo(json: json)
        frame = try JSONFields(json, "blob").bytes("data")
        guard UInt64(frame.count) == info.size else {
            throw RPCClient.TransportError.malformedResponse("blob \(info.header.seq): its data is not its size")
        }
    }
}

/// What `l1_postBlob` answers: the blob's commitment and the L1 height that holds it (the original
/// one for a re-post, `duplicate`).
public struct PostedBlobReceipt: APIValue, Equatable {
    public var commitment: Hash
    public var l1Height: UInt64
    public var duplicate: Bool
    public var rollup: RollupID
    public var seq: UInt64

    public init(commitment: Hash, l1Height: UInt64, duplicate: Bool, rollup: RollupID, seq: UInt64) {
        self.commitment = commitment
        self.l1Height = l1Height
        self.duplicate = duplicate
        self.rollup = rollup
        self.seq = seq
    }

    public var json: JSONValue {
        .object([
            "commitment": .string(commitment.hex), "l1Height": .number(l1Height), "duplicate": .bool(duplicate),
            "rollup": .number(rollup.rawValue), "seq": .number(seq),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "posted blob")
        self.init(
            commitment: try f.hex("commitment"), l1Height: try f.unsigned("l1Height"), duplicate: try f.bool("duplicate"),
            rollup: try f.rollup("rollup"), seq: try f.unsigned("seq"))
    }
}

/// What `l1_proposeOutput` answers.
public struct ProposedOutput: APIValue, Equatable {
    public var index: UInt64
    public var l1Height: UInt64
    public var windowEnd: UInt64
    public var outputRoot: Hash

    public init(index: UInt64, l1Height: UInt64, windowEnd: UInt64, outputRoot: Hash) {
        self.index = index
        self.l1Height = l1Height
        self.windowEnd = windowEnd
        self.outputRoot = outputRoot
    }

    public var json: JSONValue {
        .object([
            "index": .number(index), "l1Height": .number(l1Height), "windowEndsAt": .number(windowEnd),
            "outputRoot": .string(outputRoot.hex),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "proposed output")
        self.init(
            index: try f.unsigned("index"), l1Height: try f.unsigned("l1Height"), windowEnd: try f.unsigned("windowEndsAt"),
            outputRoot: try f.hex("outputRoot"))
    }
}

/// An output record and, when the L1 head is known, its status and the blocks left in its window
/// (`l1_getOutputs`, `db outputs`).
public struct L1Output: APIValue, Equatable {
    public var index: UInt64
    public var output: Output
    /// The output root of the standing output it was proposed on (zero: none).
    public var parent: Hash
    public var proposer: PublicKey
    public var signature: Signature
    public var bond: UInt64
    public var l1Height: UInt64
    public var windowEnd: UInt64
    /// As of the L1 head.
    public var status: OutputStatus
    /// L1 blocks left in its window (0 unless pending).
    public var blocksLeft: UInt64
    /// The L1 height and the challenge that invalidated it.
    public var invalidatedAt: UInt64?
    public var invalidatedBy: Hash?

    /// The record as of L1 height `height`.
    public init(_ r: OutputRecord, height: UInt64) {
        index = r.index
        output = r.output
        parent = r.parent
        proposer = r.proposer
        signature = r.signature
        bond = r.bond
        l1Height = r.l1Height
        windowEnd = r.windowEnd
        status = r.status(atL1Height: height)
        blocksLeft = status == .pending ? r.windowEnd - height : 0
        if r.isInvalidated {
            invalidatedAt = r.invalidatedAt
            invalidatedBy = r.invalidatedBy
        }
    }

    /// The record's form as of L1 height `height`; without a height (a stopped store read without
    /// its head), the same form without `status` and `blocksLeft`.
    public static func json(_ r: OutputRecord, height: UInt64?) -> JSONValue {
        let form = L1Output(r, height: height ?? r.l1Height).json
        guard height == nil, case .object(var o) = form else { return form }
        o["status"] = nil
        o["blocksLeft"] = nil
        return .object(o)
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "index": .number(index), "rollup": .number(output.rollup.rawValue), "l2Height": .number(output.l2Height),
            "blockHash": .string(output.blockHash.hex), "stateRoot": .string(output.stateRoot.hex),
            "outboxRoot": .string(output.outboxRoot.hex), "outputRoot": .string(output.root.hex),
            "parent": .string(parent.hex), "proposer": .string(proposer.hex), "signature": .string(signature.hex),
            "bond": .number(bond),
            "l1Height": .number(l1Height), "windowEndsAt": .number(windowEnd),
        ]
        o["status"] = .string(status.rawValue)
        o["blocksLeft"] = .number(blocksLeft)
        if let invalidatedAt { o["invalidatedAt"] = .number(invalidatedAt) }
        if let invalidatedBy { o["invalidatedBy"] = .string(invalidatedBy.hex) }
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "output")
        index = try f.unsigned("index")
        output = Output(
            rollup: try f.rollup("rollup"), l2Height: try f.unsigned("l2Height"), blockHash: try f.hex("blockHash"),
            stateRoot: try f.hex("stateRoot"), outboxRoot: try f.hex("outboxRoot"))
        parent = try f.hex("parent")
        proposer = try f.hex("proposer")
        signature = try f.hex("signature")
        bond = try f.unsigned("bond")
        l1Height = try f.unsigned("l1Height")
        windowEnd = try f.unsigned("windowEndsAt")
        guard let s = OutputStatus(rawValue: try f.string("status")) else { throw f.malformed("status") }
        status = s
        blocksLeft = try f.unsigned("blocksLeft")
        invalidatedAt = try f.optionalUnsigned("invalidatedAt")
        invalidatedBy = try f.optionalHex("invalidatedBy")
        guard try f.hex("outputRoot", as: Hash.self) == output.root else { throw f.malformed("outputRoot") }
    }

    /// What a relay of a message under this output needs to know of it (`StateMachine`).
    public var fact: L1OutputFact {
        L1OutputFact(
            outboxRoot: output.outboxRoot, l2Height: output.l2Height, windowEnd: windowEnd,
            invalidated: status == .invalidated)
    }
}

/// A won challenge as `l1_challenge` answers it.
public struct ChallengeWon: APIValue, Equatable {
    public var id: Hash
    public var reason: String
    public var l1Height: UInt64
    /// Outputs invalidated: the challenged one and every later one.
    public var invalidated: UInt64
    /// The challenged output's bond, paid to the challenger.
    public var payout: UInt64

    public init(id: Hash, reason: String, l1Height: UInt64, invalidated: UInt64, payout: UInt64) {
        self.id = id
        self.reason = reason
        self.l1Height = l1Height
        self.invalidated = invalidated
        self.payout = payout
    }

    public var json: JSONValue {
        .object([
            "id": .string(id.hex), "verdict": .string("won"), "reason": .string(reason), "l1Height": .number(l1Height),
            "invalidated": .number(invalidated), "payout": .number(payout),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "challenge verdict")
        guard try f.string("verdict") == "won" else { throw f.malformed("verdict") }
        self.init(
            id: try f.hex("id"), reason: try f.string("reason"), l1Height: try f.unsigned("l1Height"),
            invalidated: try f.unsigned("invalidated"), payout: try f.unsigned("payout"))
    }
}

/// A won challenge's record (`l1_getChallenge`).
public struct ChallengeInfo: APIValue, Equatable {
    public var id: Hash
    public var record: ChallengeRecord

    public init(id: Hash, record: ChallengeRecord) {
        self.id = id
        self.record = record
    }

    public var json: JSONValue {
        let r = record
        return .object([
            "id": .string(id.hex), "rollup": .number(r.rollup.rawValue), "outputIndex": .number(r.outputIndex),
            "kind": .string(r.kind), "challenger": .string(r.challenger.hex), "l1Height": .number(r.l1Height),
            "reason": .string(r.reason), "invalidated": .number(r.invalidated), "payout": .number(r.payout),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "challenge")
        self.init(
            id: try f.hex("id"),
            record: ChallengeRecord(
                rollup: try f.rollup("rollup"), outputIndex: try f.unsigned("outputIndex"), kind: try f.string("kind"),
                challenger: try f.hex("challenger"), l1Height: try f.unsigned("l1Height"), reason: try f.string("reason"),
                invalidated: try f.unsigned("invalidated"), payout: try f.unsigned("payout")))
    }
}

/// A rollup's row of `l1_status`: how far its DA and outputs reach, who may propose.
public struct L1RollupStatus: APIValue, Equatable {
    public var id: RollupID
    public var name: String
    /// The number of blobs posted: the next blob's seq.
    public var nextSeq: UInt64
    public var daHeight: UInt64
    public var outputCount: UInt64
    public var latestOutputHeight: UInt64
    public var finalizedHeight: UInt64
    public var invalidatedOutputs: UInt64
    /// The lowest block a won `block` proof showed faulty (nil: none).
    public var brokenAt: UInt64?
    /// Whether anyone with a bond may propose (proposer silence or a proven break).
    public var permissionless: Bool
    public var batcher: PublicKey
    public var proposer: PublicKey

    public init(
        id: RollupID, name: String, nextSeq: UInt64, daHeight: UInt64, outputCount: UInt64,
        latestOutputHeight: UInt64, finalizedHeight: UInt64, invalidatedOutputs: UInt64, brokenAt: UInt64?,
        permissionless: Bool, batcher: PublicKey, proposer: PublicKey
    ) {
        self.id = id
        self.name = name
        self.nextSeq = nextSeq
        self.daHeight = daHeight
        self.outputCount = outputCount
        self.latestOutputHeight = latestOutputHeight
        self.finalizedHeight = finalizedHeight
        self.invalidatedOutputs = invalidatedOutputs
        self.brokenAt = brokenAt
        self.permissionless = permissionless
        self.batcher = batcher
        self.proposer = proposer
    }

    public var json: JSONValue {
        .object([
            "id": .number(id.rawValue), "name": .string(name), "blobs": .number(nextSeq), "daHeight": .number(daHeight),
            "outputs": .number(outputCount), "latestOutputHeight": .number(latestOutputHeight),
            "finalizedHeight": .number(finalizedHeight), "invalidatedOutputs": .number(invalidatedOutputs),
            "brokenAt": brokenAt.map { .number($0) } ?? .null,
            "proposing": .string(permissionless ? "permissionless" : "registered"),
            "batcher": .string(batcher.hex), "proposer": .string(proposer.hex),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "rollup status")
        let proposing = try f.string("proposing")
        guard proposing == "permissionless" || proposing == "registered" else { throw f.malformed("proposing") }
        self.init(
            id: try f.rollup("id"), name: try f.string("name"), nextSeq: try f.unsigned("blobs"),
            daHeight: try f.unsigned("daHeight"), outputCount: try f.unsigned("outputs"),
            latestOutputHeight: try f.unsigned("latestOutputHeight"), finalizedHeight: try f.unsigned("finalizedHeight"),
            invalidatedOutputs: try f.unsigned("invalidatedOutputs"), brokenAt: try f.optionalUnsigned("brokenAt"),
            permissionless: proposing == "permissionless", batcher: try f.hex("batcher"), proposer: try f.hex("proposer"))
    }
}

/// `l1_status`: the head, the settlement parameters, and every rollup's row in genesis order.
public struct L1Status: APIValue, Equatable {
    public var height: UInt64
    public var hash: Hash
    public var timestamp: UInt64
    public var blockTimeMs: UInt64
    public var fraudWindowBlocks: UInt64
    public var bond: UInt64
    public var challengeBond: UInt64
    public var maxChallengesPerBlock: UInt64
    /// The digest of the genesis the L1 runs: a node of another devnet refuses to follow it.
    public var genesisDigest: Hash
    public var rollups: [L1RollupStatus]

    public init(
        height: UInt64, hash: Hash, timestamp: UInt64, blockTimeMs: UInt64, fraudWindowBlocks: UInt64, bond: UInt64,
        challengeBond: UInt64, maxChallengesPerBlock: UInt64, genesisDigest: Hash, rollups: [L1RollupStatus]
    ) {
        self.height = height
        self.hash = hash
        self.timestamp = timestamp
        self.blockTimeMs = blockTimeMs
        self.fraudWindowBlocks = fraudWindowBlocks
        self.bond = bond
        self.challengeBond = challengeBond
        self.maxChallengesPerBlock = maxChallengesPerBlock
        self.genesisDigest = genesisDigest
        self.rollups = rollups
    }

    /// The row of rollup `id`.
    public func rollup(_ id: RollupID) -> L1RollupStatus? { rollups.first { $0.id == id } }

    public var json: JSONValue {
        .object([
            "height": .number(height), "hash": .string(hash.hex), "timestamp": .number(timestamp),
            "blockTimeMs": .number(blockTimeMs), "fraudWindowBlocks": .number(fraudWindowBlocks),
            "bond": .number(bond), "challengeBond": .number(challengeBond),
            "maxChallengesPerBlock": .number(maxChallengesPerBlock), "genesisDigest": .string(genesisDigest.hex),
            "rollups": rollups.json,
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "L1 status")
        self.init(
            height: try f.unsigned("height"), hash: try f.hex("hash"), timestamp: try f.unsigned("timestamp"),
            blockTimeMs: try f.unsigned("blockTimeMs"), fraudWindowBlocks: try f.unsigned("fraudWindowBlocks"),
            bond: try f.unsigned("bond"), challengeBond: try f.unsigned("challengeBond"),
            maxChallengesPerBlock: try f.unsigned("maxChallengesPerBlock"), genesisDigest: try f.hex("genesisDigest"),
            rollups: try [L1RollupStatus](json: json["rollups"] ?? .null, "L1 status rollups"))
    }
}

// MARK: The JSON-RPC binding

extension L1API {
    /// Serves this implementation's methods: each request's parameters read into the method's
    /// typed arguments, its result written in its one JSON form. A blob post longer than
    /// `maxBlobPostBytes` is refused before it is decoded.
    public func register(into d: inout RPCDispatcher, maxBlobPostBytes: Int) {
        d.register(L1Method.blockNumber) { params in
            try params.expect(atMost: 0)
            return .number(try await self.blockNumber())
        }
        d.register(L1Method.getBlock) { params in
            try params.expect(atMost: 1)
            var height: UInt64?
            switch params.optional(0) {
            case nil, .string("latest")?: height = nil
            case let value?:
                guard let h = value.unsignedValue else {
                    throw RPCError.invalidParams("parameter 0 must be a height or \"latest\"")
                }
                height = h
            }
            return try await self.block(at: height).json
        }
        d.register(L1Method.postBlob) { params in
            try await self.postBlob(try params.canonical(BlobPost.self, "blob post", maxLength: maxBlobPostBytes)).json
        }
        d.register(L1Method.getBlob) { params in
            try params.expect(atMost: 2)
            guard let seq = params.optional(1)?.unsignedValue else {
                throw RPCError.invalidParams("parameter 1 (seq) must be an unsigned integer")
            }
            return try await self.blob(rollup: try RollupSelector(params, 0), seq: seq).json
        }
        d.register(L1Method.getBlobs) { params in
            try params.expect(atMost: 4)
            let rollup = try RollupSelector(params, 0)
            let from = try params.unsigned(1, "fromSeq", default: 0)
            let limit = try params.optional(2).map { _ in try params.unsigned(2, "limit") }
            var withData = true
            if let flag = params.optional(3) {
                guard let value = flag.boolValue else {
                    throw RPCError.invalidParams("parameter 3 (data) must be a boolean")
                }
                withData = value
            }
            if withData { return try await self.blobs(rollup: rollup, from: from, limit: limit).json }
            return try await self.blobInfos(rollup: rollup, from: from, limit: limit).json
        }
        d.register(L1Method.proposeOutput) { params in
            try await self.proposeOutput(try params.canonical(OutputProposal.self, "output proposal", maxLength: 1024))
                .json
        }
        d.register(L1Method.getOutputs) { params in
            try params.expect(atMost: 3)
            let rollup = try RollupSelector(params, 0)
            let from = try params.unsigned(1, "fromIndex", default: 0)
            let limit = try params.optional(2).map { _ in try params.unsigned(2, "limit") }
            return try await self.outputs(rollup: rollup, from: from, limit: limit).json
        }
        d.register(L1Method.challenge) { params in
            try await self.challenge(try params.canonical(Challenge.self, "challenge", maxLength: 64 << 20)).json
        }
        d.register(L1Method.getChallenge) { params in
            try params.expect(atMost: 1)
            return try await self.challengeRecord(try params.id(0, "challenge id")).json
        }
        d.register(L1Method.getBalance) { params in
            try params.expect(atMost: 1)
            return .number(try await self.balance(of: try params.address(0, "address")))
        }
        d.register(L1Method.status) { params in
            try params.expect(atMost: 0)
            return try await self.status().json
        }
    }
}


// MARK: Conveniences every implementation gets

extension L1API {
    /// Every output of `rollup` from index `from`, page by page.
    public func outputs(rollup: RollupID, from index: UInt64 = 0) async throws -> [L1Output] {
        var all: [L1Output] = []
        var next = index
        while true {
            let page = try await outputs(rollup: .id(rollup), from: next, limit: 1000)
            all += page
            guard page.count == 1000, let last = page.last else { return all }
            next = last.index + 1
        }
    }

    /// What the L1 records about output `index` of `rollup`, or nil when there is none.
    public func fact(rollup: RollupID, index: UInt64) async throws -> L1OutputFact? {
        try await outputs(rollup: .id(rollup), from: index, limit: 1).first { $0.index == index }?.fact
    }

    public func blobs(rollup: RollupID, from seq: UInt64, limit: Int = 100) async throws -> [L1Blob] {
        try await blobs(rollup: .id(rollup), from: seq, limit: UInt64(limit))
    }

    public func blobInfos(rollup: RollupID, from seq: UInt64, limit: Int = 1000) async throws -> [L1BlobInfo] {
        try await blobInfos(rollup: .id(rollup), from: seq, limit: UInt64(limit))
    }

    public func blob(rollup: RollupID, seq: UInt64) async throws -> L1Blob? {
        try await blob(rollup: .id(rollup), seq: seq)
    }
}
