import API
import Config
import Foundation
import L1Chain
import Primitives
import RPC
import Settlement

/// The L1 node's implementation of the `l1_*` methods (`L1API`, docs/rpc.md) over its store and
/// block producer. Binary payloads travel as `0x` hex of their canonical encoding.
public struct L1RPC: L1API {
    public let store: L1Store
    public let producer: L1Producer

    public init(store: L1Store, producer: L1Producer) {
        self.store = store
        self.producer = producer
    }

    var genesis: Genesis { store.genesis }

    /// Serves the `l1_*` methods (the `L1API` binding); a blob post longer than the largest blob
    /// plus its header and signature is refused before it is decoded.
    public func register(into d: inout RPCDispatcher) {
        register(into: &d, maxBlobPostBytes: Int(genesis.l1.maxBlobBytes) + (1 << 20))
    }

    static func error(_ rejection: L1Rejection) -> RPCError {
        RPCError(code: rejection.code, message: rejection.message)
    }

    func submit(_ tx: L1Transaction) async throws -> L1Outcome {
        do { return try await producer.submit(tx) } catch let rejection as L1Rejection { throw Self.error(rejection) }
    }

    func resolve(_ rollup: RollupSelector) throws -> RollupID {
        let found: RollupParameters?
        switch rollup {
        case .id(let id): found = genesis.rollup(id: id)
        case .name(let name): found = genesis.rollup(named: name)
        }
        guard let found else {
            throw RPCError(code: L1ErrorCode.unknownRollup, message: "no such rollup in the genesis: \(rollup)")
        }
        return found.id
    }

    public func blockNumber() throws -> UInt64 { try store.head().height }

    // MARK: Blocks

    public func block(at height: UInt64?) throws -> L1Block? {
        guard let (header, body) = try store.block(at: height ?? store.head().height) else { return nil }
        return L1Block(header: header, entries: body.entries)
    }

    // MARK: Blobs

    public func postBlob(_ post: BlobPost) async throws -> PostedBlobReceipt {
        guard case .blob(let commitment, let l1Height, let duplicate) = try await submit(.postBlob(post)) else {
            throw RPCError.internalError("unexpected outcome")
        }
        return PostedBlobReceipt(
            commitment: commitment, l1Height: l1Height, duplicate: duplicate, rollup: post.header.rollup,
            seq: post.header.seq)
    }

    public func blob(rollup: RollupSelector, seq: UInt64) throws -> L1Blob? {
        try store.blob(rollup: try resolve(rollup), seq: seq).map(L1Blob.init)
    }

    public func blobInfos(rollup: RollupSelector, from seq: UInt64, limit: UInt64?) throws -> [L1BlobInfo] {
        let limit = min(limit ?? 1000, 1000)
        return try store.blobs(rollup: try resolve(rollup), from: seq, limit: Int(limit), maxBytes: Int.max)
            .map(L1BlobInfo.init)
    }

    /// Frames travel as hex (twice their size): the answer fits what is left of the request's
    /// response budget, so a batch of these stops at the budget instead of building copy after copy.
    public func blobs(rollup: RollupSelector, from seq: UInt64, limit: UInt64?) throws -> [L1Blob] {
        let rollup = try resolve(rollup)
        let limit = min(limit ?? 100, 100)
        var maxBytes = 16 << 20
        if let budget = ResponseBudget.current {
            guard budget.remaining > 4096 else { throw RPCError.responseTooLarge(limit: budget.limit) }
            maxBytes = min(maxBytes, (budget.remaining - 4096) / 2)
        }
        return try store.blobs(rollup: rollup, from: seq, limit: Int(limit), maxBytes: maxBytes).map(L1Blob.init)
    }

    // MARK: Outputs

    public func proposeOutput(_ proposal: OutputProposal) async throws -> ProposedOutput {
        guard case .output(let index, let l1Height, let windowEnd) = try await submit(.proposeOutput(proposal)) else {
            throw RPCError.internalError("unexpected outcome")
        }
        return ProposedOutput(index: index, l1Height: l1Height, windowEnd: windowEnd, outputRoot: proposal.output.root)
    }

    /// Outputs with their status as of the L1 head.
    public func outputs(rollup: RollupSelector, from index: UInt64, limit: UInt64?) throws -> [L1Output] {
        let rollup = try resolve(rollup)
        let limit = min(limit ?? 1000, 1000)
        let height = try store.head().height
        return try store.outputs(rollup: rollup, from: index, limit: Int(limit)).map { L1Output($0, height: height) }
    }

    // MARK: Challenges

    public func challenge(_ challenge: Challenge) async throws -> ChallengeWon {
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
        return ChallengeWon(id: id, reason: reason, l1Height: l1Height, invalidated: invalidated, payout: payout)
    }

    public func challengeRecord(_ id: Hash) throws -> ChallengeInfo? {
        try store.challenge(id).map { ChallengeInfo(id: id, record: $0) }
    }

    public func balance(of address: Address) throws -> UInt64 { try store.balance(of: address) }

    public func status() throws -> L1Status {
        let head = try store.head()
        var rollups: [L1RollupStatus] = []
        for rollup in genesis.rollups {
            // Every node polls this: no scan of the whole output history.
            let (s, latest, finalized) = try store.standing(rollup.id)
            let openAt = s.lastProposerL1Height + genesis.l1.proposerSilenceBlocks
            rollups.append(
                L1RollupStatus(
                    id: rollup.id, name: rollup.name, nextSeq: s.nextSeq, daHeight: s.daHeight,
                    outputCount: s.outputCount, latestOutputHeight: latest?.output.l2Height ?? 0,
                    finalizedHeight: finalized?.output.l2Height ?? 0, invalidatedOutputs: s.invalidatedCount,
                    brokenAt: s.brokenAt == 0 ? nil : s.brokenAt, permissionless: s.brokenAt != 0 || head.height >= openAt,
                    batcher: rollup.batcher.publicKey, proposer: rollup.proposer.publicKey))
        }
        return L1Status(
            height: head.height, hash: head.hash, timestamp: head.timestamp, blockTimeMs: genesis.l1.blockTimeMs,
            fraudWindowBlocks: genesis.l1.fraudWindowBlocks, bond: genesis.l1.bond,
            challengeBond: genesis.l1.challengeBond, maxChallengesPerBlock: genesis.l1.maxChallengesPerBlock,
            genesisDigest: store.digest, rollups: rollups)
    }
}
