import Chain
import L1Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import StateTree
import Storage

/// The result of `db verify`: what was checked and the first problem, named precisely.
public struct VerifyReport: Sendable {
    public var kind: StoreKind
    public var name: String
    public var head: UInt64
    public var blocks: UInt64 = 0
    public var stateNodes: Int = 0
    public var stateValues: Int = 0
    public var batches: Int = 0
    /// Batches whose frame does not decode, accepted because their blocks are the empty blocks
    /// derivation makes of a blob that does not decode. Only the L1 (`db check-l1`) can tell such a
    /// batch from a damaged record of one that decoded.
    public var undecodableBatches: Int = 0
    public var blobs: Int = 0
    /// The first problem found; nil when everything verifies.
    public var problem: String?

    public var ok: Bool { problem == nil }

    public var json: JSONValue {
        var json: [String: JSONValue] = [
            "ok": .bool(ok), "kind": .string(kind.rawValue), "name": .string(name), "head": .number(head),
            "blocks": .number(blocks), "stateNodes": .number(stateNodes), "stateValues": .number(stateValues),
            "batches": .number(batches), "undecodableBatches": .number(UInt64(undecodableBatches)),
            "blobs": .number(blobs),
        ]
        if let problem { json["problem"] = .string(problem) }
        return .object(json)
    }

    public var human: String {
        if let problem { return "FAILED: \(problem)" }
        switch kind {
        case .l1:
            return
                "ok: L1 store, blocks 0…\(head): header chain and entries roots match, \(blobs) blobs match their commitments"
        default:
            let blocks =
                self.blocks == head ? "blocks 1…\(head) re-executed, every root matches" : "headers 0…\(head) checked"
            let undecodable =
                undecodableBatches == 0
                ? ""
                : " (\(undecodableBatches) of them do not decode and hold only empty blocks, as derivation makes of such a blob; `db check-l1` compares them with the L1)"
            return
                "ok: \(name), \(blocks); \(stateNodes) state nodes and \(stateValues) state values rehashed up to the state root; \(batches) batches decompress to the stored blocks"
                + undecodable
        }
    }
}

extension InspectedStore {
    /// Verifies the store: a rollup store against `genesis` (headers, indices, every state node and
    /// value rehashed, every block re-executed with its roots compared, every batch decoded and
    /// compared with the stored blocks); an L1 store's header chain, entries roots and blob commitments.
    /// Reads in short transactions over the heights up to the head it found first, so it is safe on a
    /// live store and never pins old pages for long.
    public func verify(genesis: Genesis?, reexecute: Bool = true, progress: ProgressSink? = nil) throws
        -> VerifyReport
    {
        switch kind {
        case .rollup:
            guard let genesis else { throw OperatorError("verifying a rollup store needs its --genesis") }
            return try verifyRollup(genesis: genesis, reexecute: reexecute, progress: progress)
        case .l1:
            return try verifyL1(progress: progress)
        case .unknown:
            throw OperatorError("\(path) is neither a rollup nor an L1 store")
        }
    }

    /// The one verifier (`ChainVerifier`), over the store's head.
    func verifyRollup(genesis: Genesis, reexecute: Bool, progress: ProgressSink?) throws -> VerifyReport {
        let rollup = try self.rollup(genesis: genesis)
        guard let head = try rollupHead() else { throw OperatorError("\(path) has no head pointer") }
        var verifier = ChainVerifier(environment: environment, rollup: rollup, network: Network(genesis))
        verifier.chunkEntries = chunkEntries
        let checked = try verifier.verify(head: head, reexecute: reexecute, progress: progress)
        var report = VerifyReport(kind: .rollup, name: rollup.name, head: head)
        report.blocks = checked.blocks
        report.stateNodes = checked.stateNodes
        report.stateValues = checked.stateValues
        report.batches = checked.batches
        report.undecodableBatches = checked.undecodableBatches
        report.problem = checked.problem?.message
        return report
    }


    func verifyL1(progress: ProgressSink?) throws -> VerifyReport {
        guard let head = try l1Head() else { throw OperatorError("\(path) has no L1 head pointer") }
        var report = VerifyReport(kind: .l1, name: "L1", head: head)
        do {
            var parent: L1BlockHeader?
            var height: UInt64 = 0
            while height <= head {
                let end = min(head, height + 255)
                try environment.read { txn in
                    for h in height...end {
                        guard let header = try VerificationProblem.decoding({ try txn.get(L1Headers.self, h) }, "L1 header \(h)"),
                            let body = try VerificationProblem.decoding({ try txn.get(L1Bodies.self, h) }, "L1 body \(h)")
                        else { throw VerificationProblem("L1 block \(h) is missing its header or body") }
                        guard header.height == h, header.parent == (parent?.hash ?? .zero) else {
                            throw VerificationProblem("L1 header \(h) is damaged or does not link to block \(h == 0 ? 0 : h - 1)")
                        }
                        let root = MerkleList.root(body.entries.map(\.id))
                        guard header.entriesRoot == root else {
                            throw VerificationProblem("L1 block \(h): entries root \(header.entriesRoot), computed \(root)")
                        }
                        for entry in body.entries {
                            guard case .blob(let bh, let commitment, let size, _) = entry else { continue }
                            guard
                                let blob = try VerificationProblem.decoding(
                                    { try txn.get(Blobs.self, RollupIndexKey(bh.rollup, bh.seq)) },
                                    "blob \(bh.rollup):\(bh.seq)")
                            else { throw VerificationProblem("L1 block \(h) accepted blob \(bh.rollup):\(bh.seq), which is missing") }
                            let actual = Hash.sha256(blob.frame)
                            guard actual == commitment, blob.commitment == commitment,
                                UInt64(blob.frame.count) == size, blob.header == bh
                            else {
                                throw VerificationProblem(
                                    "blob \(bh.rollup):\(bh.seq) is damaged: its bytes hash to \(actual), L1 block \(h) committed to \(commitment)"
                                )
                            }
                            report.blobs += 1
                        }
                        parent = header
                    }
                }
                progress?("L1 blocks", end, head)
                height = end + 1
            }
            report.blocks = head
        } catch let problem as VerificationProblem {
            report.problem = problem.message
        }
        return report
    }
}
