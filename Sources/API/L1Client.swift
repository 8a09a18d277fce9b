import Config
import Foundation
import Primitives
import RPC
import Settlement
import StateMachine

/// The typed client of the L1 node's `l1_*` methods (`L1API`), over HTTP or any `RPCTransport`
/// (in process: an `RPCDispatcher` serving `L1RPC`, the same request and response bytes).
public struct L1Client: L1API {
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

    static func hex(_ value: some CanonicalEncodable) -> JSONValue {
        .string("0x" + Hex.encode(value.canonicalBytes))
    }

    public func blockNumber() async throws -> UInt64 {
        try await rpc.call(L1Method.blockNumber).unsigned("block number")
    }

    public func block(at height: UInt64?) async throws -> L1Block? {
        try L1Block?(json: try await rpc.call(L1Method.getBlock, [height.map { .number($0) } ?? .string("latest")]))
    }

    public func status() async throws -> L1Status { try L1Status(json: try await rpc.call(L1Method.status)) }

    public func postBlob(_ post: BlobPost) async throws -> PostedBlobReceipt {
        try PostedBlobReceipt(json: try await rpc.call(L1Method.postBlob, [Self.hex(post)]))
    }

    public func blob(rollup: RollupSelector, seq: UInt64) async throws -> L1Blob? {
        try L1Blob?(json: try await rpc.call(L1Method.getBlob, [rollup.json, .number(seq)]))
    }

    public func blobs(rollup: RollupSelector, from seq: UInt64, limit: UInt64?) async throws -> [L1Blob] {
        try [L1Blob](
            json: try await rpc.call(L1Method.getBlobs, [rollup.json, .number(seq), limit.map { .number($0) } ?? .null]),
            "blobs")
    }

    public func blobInfos(rollup: RollupSelector, from seq: UInt64, limit: UInt64?) async throws -> [L1BlobInfo] {
        try [L1BlobInfo](
            json: try await rpc.call(
                L1Method.getBlobs, [rollup.json, .number(seq), limit.map { .number($0) } ?? .null, .bool(false)]),
            "blob records")
    }

    public func proposeOutput(_ proposal: OutputProposal) async throws -> ProposedOutput {
        try ProposedOutput(json: try await rpc.call(L1Method.proposeOutput, [Self.hex(proposal)]))
    }

    public func outputs(rollup: RollupSelector, from index: UInt64, limit: UInt64?) async throws -> [L1Output] {
        try [L1Output](
            json: try await rpc.call(
                L1Method.getOutputs, [rollup.json, .number(index), limit.map { .number($0) } ?? .null]),
            "outputs")
    }

    public func challenge(_ challenge: Challenge) async throws -> ChallengeWon {
        try ChallengeWon(json: try await rpc.call(L1Method.challenge, [Self.hex(challenge)]))
    }

    public func challengeRecord(_ id: Hash) async throws -> ChallengeInfo? {
        try ChallengeInfo?(json: try await rpc.call(L1Method.getChallenge, [.string(id.hex)]))
    }

    public func balance(of address: Address) async throws -> UInt64 {
        try await rpc.call(L1Method.getBalance, [.string(address.hex)]).unsigned("balance")
    }
}
