import API
import Chain
import L1
import L1Chain
import Logging
import Node
import Primitives
import Settlement
import StateMachine
import Testing
import TributaryTesting

/// What the L1 server writes and what `L1Client` reads back are one API (`L1API`): every field
/// the client returns equals the store's own record, through the real server code in process.
@Suite struct L1ClientAgreementTests {
    @Test func blobsOutputsAndStatusReadBackAsTheStoreHoldsThem() async throws {
        let dir = try TemporaryDirectory("node-agree")
        var builder = GenesisBuilder.small(rollups: 2)
        builder.l1.fraudWindowBlocks = 1000
        let genesis = try builder.parsed()
        let alpha = genesis.rollups[0]
        let l1 = try InProcessL1(datadir: dir.appending("l1"), genesis: genesis)
        let logger = Logger(label: "test.agree")
        let store = try ChainStore(datadir: dir.appending("alpha"), rollup: alpha, network: Network(genesis))
        let key = { (role: RoleKey) in DevKeys.key(named: role.name, seed: genesis.devSeed) }
        let batcher = Batcher(store: store, l1: l1.client, key: key(alpha.batcher), logger: logger)
        for h in 1...alpha.outputIntervalBlocks {
            _ = try store.commitBlock(candidates: [], timestamp: h)
            if h % 4 == 0 { #expect(try await batcher.step(force: true)) }
        }
        #expect(try await batcher.step(force: true))
        let watcher = L1Watcher(l1: l1.client, own: alpha.id)
        #expect(await watcher.poll() != nil)
        let proposer = Proposer(
            store: store, l1: l1.client, watcher: watcher, key: key(alpha.proposer), fallbackOnly: false, logger: logger)
        #expect(try await proposer.step() == alpha.outputIntervalBlocks)

        let records = try l1.store.blobs(rollup: alpha.id, from: 0, limit: 100, maxBytes: Int.max)
        let blobs = try await l1.client.blobs(rollup: alpha.id, from: 0)
        #expect(records.count >= 3 && blobs.count == records.count)
        for (blob, record) in zip(blobs, records) {
            #expect(blob == L1Blob(record))
            #expect(blob.header == record.header && blob.frame == record.frame)
        }
        let infos = try await l1.client.blobInfos(rollup: alpha.id, from: 0)
        #expect(infos == records.map(L1BlobInfo.init))
        #expect(try await l1.client.blob(rollup: alpha.id, seq: 1) == L1Blob(records[1]))
        #expect(try await l1.client.blob(rollup: "alpha", seq: 1) == L1Blob(records[1]))
        #expect(try await l1.client.blob(rollup: alpha.id, seq: 99) == nil)

        let head = try l1.store.head().height
        let outputs = try await l1.client.outputs(rollup: alpha.id)
        let stored = try l1.store.outputs(rollup: alpha.id, from: 0, limit: 100)
        #expect(outputs.count == 1 && stored.count == 1)
        for (info, record) in zip(outputs, stored) {
            #expect(info.index == record.index && info.output == record.output && info.proposer == record.proposer)
            #expect(info.l1Height == record.l1Height && info.windowEnd == record.windowEnd)
            // The status as of a head at least the one read before the call.
            #expect(info.status == record.status(atL1Height: head))
            #expect(info.blocksLeft <= record.windowEnd - record.l1Height)
            #expect(info == L1Output(record, height: record.windowEnd - info.blocksLeft))
        }
        let fact = try await l1.client.fact(rollup: alpha.id, index: 0)
        #expect(fact?.outboxRoot == stored[0].output.outboxRoot && fact?.l2Height == stored[0].output.l2Height)

        let status = try await l1.client.status()
        let state = try #require(try l1.store.rollupState(alpha.id))
        #expect(status.height >= head)
        #expect(status.rollup(alpha.id)?.daHeight == state.daHeight)
        #expect(status.rollup(alpha.id)?.nextSeq == state.nextSeq)
        #expect(status.rollups.map(\.name) == genesis.rollups.map(\.name))
        #expect(status.genesisDigest == l1.store.digest)

        // Blocks: the entries the store holds, their hash and entries root checked on reading.
        for height in 1...min(head, 40) {
            let (header, body) = try #require(try l1.store.block(at: height))
            #expect(try await l1.client.block(at: height) == L1Block(header: header, entries: body.entries))
        }
        #expect(try await l1.client.block(at: 1_000_000) == nil)
    }

    /// Every result type reads back from its own JSON form as the value it was, and a form with a
    /// field missing, of the wrong type, or contradicting what it repeats (a hash, a root, a size)
    /// is refused with the value and the field named.
    @Test func everyResultTypeReadsBackItsOwnFormAndRefusesDamagedOnes() throws {
        let key = DevKeys.account(3)
        let output = Output(
            rollup: RollupID(2), l2Height: 40, blockHash: .sha256([1]), stateRoot: .sha256([2]), outboxRoot: .sha256([3]))
        let proposal = OutputProposal(output: output, parent: .sha256([11]), signedBy: key)
        let header = BatchHeader(rollup: RollupID(2), seq: 3, firstHeight: 11, lastHeight: 20)
        let entries: [L1Entry] = [
            .blob(header: header, commitment: .sha256([4]), size: 77, signature: key.sign([1, 2])),
            .output(index: 5, proposal: proposal),
            .challenge(id: .sha256([5]), rollup: RollupID(2), outputIndex: 5, kind: "span", challenger: key.publicKey, invalidated: 2),
            .lostChallenge(
                id: .sha256([6]), rollup: RollupID(2), outputIndex: 4, kind: "output", challenger: key.publicKey,
                bondForfeited: 9),
        ]
        let block = L1Block(
            header: L1BlockHeader(height: 8, parent: .sha256([7]), timestamp: 1234, entriesRoot: MerkleList.root(entries.map(\.id))),
            entries: entries)
        #expect(try L1Block(json: block.json) == block)
        var record = OutputRecord(
            index: 5, output: output, parent: proposal.parent, proposer: key.publicKey, signature: proposal.signature,
            bond: 100, l1Height: 10, windowEnd: 30)
        for height: UInt64 in [12, 30] {
            let o = L1Output(record, height: height)
            #expect(try L1Output(json: o.json) == o)
        }
        record.invalidatedAt = 20
        record.invalidatedBy = .sha256([8])
        let invalidated = L1Output(record, height: 25)
        #expect(invalidated.status == .invalidated && invalidated.invalidatedAt == 20)
        #expect(try L1Output(json: invalidated.json) == invalidated)
        let blob = L1Blob(
            BlobRecord(header: header, commitment: .sha256([4]), signature: key.sign([1]), l1Height: 9, frame: [1, 2, 3]))
        #expect(try L1Blob(json: blob.json) == blob)
        #expect(try L1BlobInfo(json: blob.info.json) == blob.info)

        func damaged(_ value: JSONValue, _ key: String, _ replacement: JSONValue?) -> JSONValue {
            guard case .object(var o) = value else { return value }
            o[key] = replacement
            return .object(o)
        }
        func refusal(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(refusal { _ = try L1Output(json: damaged(invalidated.json, "l2Height", nil)) }.contains("output: field l2Height"))
        #expect(refusal { _ = try L1Output(json: damaged(invalidated.json, "status", .string("won"))) }.contains("field status"))
        #expect(refusal { _ = try L1Output(json: damaged(invalidated.json, "stateRoot", .string("0x" + String(repeating: "ab", count: 32)))) }.contains("field outputRoot"))
        #expect(refusal { _ = try L1Blob(json: damaged(blob.json, "data", .string("0x0102"))) }.contains("not its size"))
        #expect(refusal { _ = try L1Block(json: damaged(block.json, "timestamp", .number(UInt64(1235)))) }.contains("its hash is not its header's"))
        guard case .object(var form) = block.json, case .array(var items)? = form["transactions"] else {
            Issue.record("an L1 block's form is an object with its transactions")
            return
        }
        items.removeLast()
        form["transactions"] = .array(items)
        #expect(refusal { _ = try L1Block(json: .object(form)) }.contains("entries root"))
        #expect(refusal { _ = try L1Status(json: .array([])) }.contains("L1 status is not an object"))
    }
}
