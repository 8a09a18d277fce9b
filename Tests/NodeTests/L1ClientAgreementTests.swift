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

/// What the L1 server writes (`JSONForm`) and what `L1Client` reads back are one API: every field
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
            #expect(blob.header == record.header && blob.frame == record.frame)
            #expect(blob.commitment == record.commitment && blob.l1Height == record.l1Height)
        }
        let infos = try await l1.client.blobInfos(rollup: alpha.id, from: 0)
        #expect(infos.map(\.header) == records.map(\.header) && infos.map(\.commitment) == records.map(\.commitment))

        let head = try l1.store.head().height
        let outputs = try await l1.client.outputs(rollup: alpha.id)
        let stored = try l1.store.outputs(rollup: alpha.id, from: 0, limit: 100)
        #expect(outputs.count == 1 && stored.count == 1)
        for (info, record) in zip(outputs, stored) {
            #expect(info.index == record.index && info.output == record.output && info.proposer == record.proposer)
            #expect(info.l1Height == record.l1Height && info.windowEnd == record.windowEnd)
            // The status as of a head at least the one read before the call.
            #expect(info.status == record.status(atL1Height: head).rawValue)
            #expect(info.blocksLeft <= record.windowEnd - record.l1Height)
        }
        let fact = try await l1.client.fact(rollup: alpha.id, index: 0)
        #expect(fact?.outboxRoot == stored[0].output.outboxRoot && fact?.l2Height == stored[0].output.l2Height)

        let status = try await l1.client.status()
        let state = try #require(try l1.store.rollupState(alpha.id))
        #expect(status.height >= head)
        #expect(status.rollups[alpha.id.rawValue]?.daHeight == state.daHeight)
        #expect(status.rollups[alpha.id.rawValue]?.nextSeq == state.nextSeq)
    }
}
