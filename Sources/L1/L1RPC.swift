import API
import Config
import Foundation
import L1Chain
import Primitives
import RPC
import Settlement

/// The `l1_*` methods (docs/rpc.md). Binary payloads travel as `0x` hex of their canonical
/// encoding.
public struct L1RPC: Sendable {
    public let store: L1Store
    public let producer: L1Producer

    public init(store: L1Store, producer: L1Producer) {
        self.store = store
        self.producer = producer
    }

    var genesis: Genesis { store.genesis }

    public func register(into d: inout RPCDispatcher) {
        d.register(L1Method.blockNumber) { params in
            try params.expect(atMost: 0)
            return .number(try self.store.head().height)
        }
        d.register(L1Method.getBlock) { try self.getBlock($0) }
        d.register(L1Method.postBlob) { try await self.postBlob($0) }
        d.register(L1Method.getBlob) { try self.getBlob($0) }
        d.register(L1Method.getBlobs) { try self.getBlobs($0) }
        d.register(L1Method.proposeOutput) { try await self.proposeOutput($0) }
        d.register(L1Method.getOutputs) { try self.getOutputs($0) }
        d.register(L1Method.challenge) { try await self.challenge($0) }
        d.register(L1Method.getChallenge) { try self.getChallenge($0) }
        d.register(L1Method.getBalance) { try self.getBalance($0) }
        d.register(L1Method.status) { params in
            try params.expect(atMost: 0)
            return try self.status()
        }
    }

    static func error(_ rejection: L1Rejection) -> RPCError {
        RPCError(code: rejection.code, message: rejection.message)
    }

    func submit(_ tx: L1Transaction) async throws -> L1Outcome {
        do { return try await producer.submit(tx) } catch let rejection as L1Rejection { throw Self.error(rejection) }
    }

    func decode<T: CanonicalDecodable>(_ type: T.Type, _ params: RPCParams, _ name: String, maxLength: Int) throws -> T
    {
        try params.expect(atMost: 1)
        let raw = try params.hex(0, name)
        do {
            return try T(canonicalBytes: raw, limits: DecodingLimits(maxLength: maxLength, maxCount: 1 << 20))
        } catch {
            throw RPCError.invalidParams("parameter 0 is not a canonical \(name): \(error)")
        }
    }

    func rollupID(_ params: RPCParams, _ index: Int) throws -> RollupID {
        let rollup: RollupParameters?
        switch params.optional(index) {
        case .string(let name)?: rollup = genesis.rollup(named: name)
        case let value?:
            guard let n = value.unsignedValue, n <= UInt64(UInt32.max) else {
                throw RPCError.invalidParams("parameter \(index) (rollup) must be a rollup name or id")
            }
            rollup = genesis.rollup(id: RollupID(UInt32(n)))
        case nil: throw RPCError.invalidParams("parameter \(index) (rollup) is required")
        }
        guard let rollup else {
            throw RPCError(code: L1ErrorCode.unknownRollup, message: "no such rollup in the genesis")
        }
        return rollup.id
    }

    // MARK: Blocks

    func getBlock(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        let height: UInt64
        switch params.optional(0) {
        case nil, .string("latest")?: height = try store.head().height
        case let value?:
            guard let h = value.unsignedValue else {
                throw RPCError.invalidParams("parameter 0 must be a height or \"latest\"")
            }
            height = h
        }
        guard let (header, body) = try store.block(at: height) else { return .null }
        return JSONForm.json(header, body: body)
    }


    // MARK: Blobs

    func postBlob(_ params: RPCParams) async throws -> JSONValue {
        let post = try decode(
            BlobPost.self, params, "blob post", maxLength: Int(genesis.l1.maxBlobBytes) + (1 << 20))
        guard case .blob(let commitment, let l1Height, let duplicate) = try await submit(.postBlob(post)) else {
            throw RPCError.internalError("unexpected outcome")
        }
        return .object([
            "commitment": .string(commitment.hex), "l1Height": .number(l1Height), "duplicate": .bool(duplicate),
            "rollup": .number(post.header.rollup.rawValue), "seq": .number(post.header.seq),
        ])
    }


    func getBlob(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 2)
        let rollup = try rollupID(params, 0)
        guard let seq = params.optional(1)?.unsignedValue else {
            throw RPCError.invalidParams("parameter 1 (seq) must be an unsigned integer")
        }
        guard let record = try store.blob(rollup: rollup, seq: seq) else { return .null }
        return JSONForm.json(record, data: true)
    }

    /// `[rollup, fromSeq, limit?, data?]`: up to `limit` (≤ 100) blobs with data, at most 16 MiB of
    /// frames; with `data` false, up to `limit` (≤ 1000) records without their frames.
    func getBlobs(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 4)
        let rollup = try rollupID(params, 0)
        let from = try params.unsigned(1, "fromSeq", default: 0)
        var withData = true
        if let flag = params.optional(3), flag != .null {
            guard let value = flag.boolValue else {
                throw RPCError.invalidParams("parameter 3 (data) must be a boolean")
            }
            withData = value
        }
        if !withData {
            let limit = min(try params.unsigned(2, "limit", default: 1000), 1000)
            let records = try store.blobs(rollup: rollup, from: from, limit: Int(limit), maxBytes: Int.max)
            return .array(records.map { JSONForm.json($0, data: false) })
        }
        let limit = min(try params.unsigned(2, "limit", default: 100), 100)
        // Frames travel as hex (twice their size): fit the answer to what is left of the request's
        // response budget, so a batch of these stops at the budget instead of building copy after copy.
        var maxBytes = 16 << 20
        if let budget = ResponseBudget.current {
            guard budget.remaining > 4096 else { throw RPCError.responseTooLarge(limit: budget.limit) }
            maxBytes = min(maxBytes, (budget.remaining - 4096) / 2)
        }
        let records = try store.blobs(rollup: rollup, from: from, limit: Int(limit), maxBytes: maxBytes)
        return .array(records.map { JSONForm.json($0, data: true) })
    }

    // MARK: Outputs

    func proposeOutput(_ params: RPCParams) async throws -> JSONValue {
        let proposal = try decode(OutputProposal.self, params, "output proposal", maxLength: 1024)
        guard case .output(let index, let l1Height, let windowEnd) = try await submit(.proposeOutput(proposal)) else {
            throw RPCError.internalError("unexpected outcome")
        }
        return .object([
            "index": .number(index), "l1Height": .number(l1Height), "windowEndsAt": .number(windowEnd),
            "outputRoot": .string(proposal.output.root.hex),
        ])
    }


    /// `[rollup, fromIndex?, limit?]`: outputs with their status as of the L1 head.
    func getOutputs(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 3)
        let rollup = try rollupID(params, 0)
        let from = try params.unsigned(1, "fromIndex", default: 0)
        let limit = min(try params.unsigned(2, "limit", default: 1000), 1000)
        let height = try store.head().height
        return .array(
            try store.outputs(rollup: rollup, from: from, limit: Int(limit)).map { JSONForm.json($0, height: height) })
    }

    // MARK: Challenges

    func challenge(_ params: RPCParams) async throws -> JSONValue {
        let challenge = try decode(Challenge.self, params, "challenge", maxLength: 64 << 20)
        let outcome = try await submit(.challenge(challenge))
        if let lost = outcome.lostChallengeRejection, case .challengeLost(let id, let l1Height, _, let forfeited) = outcome
        {
            throw RPCError(
                code: lost.code, message: lost.message,
                data: .object([
                    "id": .string(id.hex), "verdict": .string("lost"), "l1Height": .number(l1Height),
                    "bondForfeited": .number(forfeited),
                ]))
        }
        guard case .challenge(let id, let l1Height, let reason, let invalidated, let payout) = outcome else {
            throw RPCError.internalError("unexpected outcome")
        }
        return .object([
            "id": .string(id.hex), "verdict": .string("won"), "reason": .string(reason), "l1Height": .number(l1Height),
            "invalidated": .number(invalidated), "payout": .number(payout),
        ])
    }

    func getChallenge(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        guard let id = try? Hash(hex: try params.string(0, "challenge id")) else {
            throw RPCError.invalidParams("parameter 0 (challenge id) must be 32 bytes of hex")
        }
        guard let r = try store.challenge(id) else { return .null }
        return .object([
            "id": .string(id.hex), "rollup": .number(r.rollup.rawValue), "outputIndex": .number(r.outputIndex),
            "kind": .string(r.kind), "challenger": .string(r.challenger.hex), "l1Height": .number(r.l1Height),
            "reason": .string(r.reason), "invalidated": .number(r.invalidated), "payout": .number(r.payout),
        ])
    }

    func getBalance(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        guard let address = try? Address(hex: try params.string(0, "address")) else {
            throw RPCError.invalidParams("parameter 0 (address) must be 20 bytes of hex")
        }
        return .number(try store.balance(of: address))
    }

    func status() throws -> JSONValue {
        let head = try store.head()
        var rollups: [JSONValue] = []
        for rollup in genesis.rollups {
            // Every node polls this: no scan of the whole output history.
            let (s, latest, finalized) = try store.standing(rollup.id)
            let openAt = s.lastProposerL1Height + genesis.l1.proposerSilenceBlocks
            rollups.append(
                .object([
                    "id": .number(rollup.id.rawValue), "name": .string(rollup.name), "blobs": .number(s.nextSeq),
                    "daHeight": .number(s.daHeight), "outputs": .number(s.outputCount),
                    "latestOutputHeight": .number(latest?.output.l2Height ?? 0),
                    "finalizedHeight": .number(finalized?.output.l2Height ?? 0),
                    "invalidatedOutputs": .number(s.invalidatedCount),
                    "brokenAt": s.brokenAt == 0 ? .null : .number(s.brokenAt),
                    "proposing": .string(
                        s.brokenAt != 0 || head.height >= openAt ? "permissionless" : "registered"),
                    "batcher": .string(rollup.batcher.publicKey.hex),
                    "proposer": .string(rollup.proposer.publicKey.hex),
                ]))
        }
        return .object([
            "height": .number(head.height), "hash": .string(head.hash.hex), "timestamp": .number(head.timestamp),
            "blockTimeMs": .number(genesis.l1.blockTimeMs), "fraudWindowBlocks": .number(genesis.l1.fraudWindowBlocks),
            "bond": .number(genesis.l1.bond), "challengeBond": .number(genesis.l1.challengeBond),
            "maxChallengesPerBlock": .number(genesis.l1.maxChallengesPerBlock), "genesisDigest": .string(store.digest.hex), "rollups": .array(rollups),
        ])
    }
}
