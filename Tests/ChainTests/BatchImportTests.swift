import Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import Storage
import Testing
import TributaryTesting

/// The one import loop (`BatchImport`) under both policies, over batches of a real source chain.
@Suite struct BatchImportTests {
    /// A source chain of 8 blocks with a transfer each, and its two batches (blocks 1…4, 5…8).
    func source(_ dir: TemporaryDirectory) throws -> (blocks: [Block], batches: [PostedBatch]) {
        let store = try ChainStore(datadir: dir.appending("source"), rollup: try alphaParameters(), network: try devnet())
        var blocks: [Block] = []
        for h in 1...8 {
            let tx = transfer(DevKeys.account(0), nonce: UInt64(h - 1), to: DevKeys.account(1).address, amount: 3)
            blocks.append(try store.commitBlock(candidates: [tx], timestamp: UInt64(h)).block)
        }
        let batches = try (0..<2).map { seq in
            let part = Array(blocks[seq * 4..<seq * 4 + 4])
            let header = BatchHeader(
                rollup: store.rollup.id, seq: UInt64(seq), firstHeight: part[0].header.height,
                lastHeight: part[3].header.height)
            return PostedBatch(header: header, l1Height: UInt64(10 + seq), frame: try BatchCodec.encode(part, level: 3))
        }
        return (blocks, batches)
    }

    func target(_ dir: TemporaryDirectory, _ name: String) throws -> ChainStore {
        try ChainStore(datadir: dir.appending(name), rollup: try alphaParameters(), network: try devnet())
    }

    /// `batch` with block `height`'s posted header claiming a false state root.
    func lying(_ batch: PostedBatch, at height: UInt64) throws -> PostedBatch {
        var blocks = try BatchCodec.decode(batch.frame, header: batch.header)
        let i = blocks.firstIndex { $0.header.height == height }!
        blocks[i].header.stateRoot = Hash.sha256(Array("a lie".utf8))
        var out = batch
        out.frame = try BatchCodec.encode(blocks, level: 3)
        return out
    }

    func noFacts(_ key: RollupIndex) async throws -> L1OutputFact? { nil }

    @Test func honestBatchesImportToTheSourceChainAndAreRecorded() async throws {
        let dir = try TemporaryDirectory("import-honest")
        let (blocks, batches) = try source(dir)
        for policy in [BatchImport.MismatchPolicy.keepClaim, .stop] {
            let store = try target(dir, "\(policy)")
            let importer = BatchImport(store: store, policy: policy, source: "the test")
            for batch in batches {
                let outcome = try await importer.run(batch, fact: noFacts)
                #expect(outcome.stop == nil && outcome.blocks == 4 && outcome.transactions == 4)
            }
            #expect(try store.head() == blocks[7].header)
            #expect(try importer.nextSeq() == 2)
            // Importing a batch again changes nothing.
            let again = try await importer.run(batches[1], fact: noFacts)
            #expect(again.stop == nil && again.blocks == 0)
            #expect(try store.verify() == 8)
        }
    }

    @Test func aFalseHeaderIsKeptAsAClaimOrStopsTheImportByPolicy() async throws {
        let dir = try TemporaryDirectory("import-lie")
        let (blocks, batches) = try source(dir)
        let lie = try lying(batches[1], at: 6)

        let deriving = try target(dir, "derive")
        let keep = BatchImport(store: deriving, policy: .keepClaim, source: "the test")
        _ = try await keep.run(batches[0], fact: noFacts)
        let kept = try await keep.run(lie, fact: noFacts)
        #expect(kept.stop == nil && kept.blocks == 4)
        #expect(kept.faults.first?.height == 6)
        #expect(kept.faults.first?.differences.first?.hasPrefix("state root") == true)
        // The canonical chain goes on: block 6 is the honest one, the lie is the posted header.
        #expect(try deriving.block(at: 6)?.header == blocks[5].header)
        #expect(try keep.postedHeader(at: 6)?.stateRoot == Hash.sha256(Array("a lie".utf8)))

        let replaying = try target(dir, "replay")
        let stop = BatchImport(store: replaying, policy: .stop, source: "the test")
        _ = try await stop.run(batches[0], fact: noFacts)
        let stopped = try await stop.run(lie, fact: noFacts)
        guard case .mismatch(let why, let height)? = stopped.stop else {
            Issue.record("no mismatch: \(stopped)")
            return
        }
        #expect(height == 6 && stopped.blocks == 1)
        #expect(why.hasPrefix("block 6 (batch 1) does not re-execute to its posted header: state root"), "\(why)")
        #expect(try replaying.head().height == 5)
        #expect(try stop.nextSeq() == 1)
    }

    @Test func anUndecodableBatchDerivesAsEmptyBlocksUnderBothPolicies() async throws {
        let dir = try TemporaryDirectory("import-undecodable")
        let (_, batches) = try source(dir)
        var broken = batches[1]
        broken.frame = Array(broken.frame.prefix(broken.frame.count / 2))
        for policy in [BatchImport.MismatchPolicy.keepClaim, .stop] {
            let store = try target(dir, "\(policy)")
            let importer = BatchImport(store: store, policy: policy, source: "the test")
            _ = try await importer.run(batches[0], fact: noFacts)
            let outcome = try await importer.run(broken, fact: noFacts)
            #expect(outcome.undecodable != nil && outcome.stop == nil && outcome.blocks == 4)
            for h in UInt64(5)...8 { #expect(try store.block(at: h)?.transactions.isEmpty == true) }
            #expect(try importer.nextSeq() == 2)
            #expect(try store.verify() == 8)
        }
    }

    @Test func aGapOrADivergentHeldBlockStopsWithoutWriting() async throws {
        let dir = try TemporaryDirectory("import-stops")
        let (_, batches) = try source(dir)
        let store = try target(dir, "gap")
        let importer = BatchImport(store: store, policy: .keepClaim, source: "the test")
        let gap = try await importer.run(batches[1], fact: noFacts)
        #expect(gap.stop == .gap("batch 1 starts at block 5, after the store's head 0", nextHeight: 1))
        #expect(try store.head().height == 0 && importer.nextSeq() == 0)

        // A store holding other blocks 1…4 than the batch carries.
        let other = try target(dir, "other")
        for h in 1...4 {
            let tx = transfer(DevKeys.account(2), nonce: UInt64(h - 1), to: DevKeys.account(3).address, amount: 1)
            _ = try other.commitBlock(candidates: [tx], timestamp: UInt64(h))
        }
        let diverged = try await BatchImport(store: other, policy: .stop, source: "the L1").run(batches[0], fact: noFacts)
        guard case .diverged(let why, let height)? = diverged.stop else {
            Issue.record("no divergence: \(diverged)")
            return
        }
        #expect(height == 1 && why.hasPrefix("the store diverges from the L1 at block 1"), "\(why)")
        #expect(try other.head().height == 4)
    }
}
