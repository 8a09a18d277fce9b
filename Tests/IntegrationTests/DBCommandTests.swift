import API
import Chain
import Config
import Foundation
import Primitives
import RPC
import Settlement
import StateMachine
import Storage
import Testing
import TributaryTesting

/// `tributary db …` on a store a real node wrote.
@Suite struct DBCommandTests {
    @Test func dbCommandsReadALiveStoreAgreeWithMdbStatAndCatchTampering() async throws {
        let dir = try TemporaryDirectory("db")
        let node = try startAlpha(dir)
        let rpc = RPCClient(url: node.url)
        var last = Hash.zero
        for nonce in UInt64(0)..<3 {
            let tx = signedTransfer(DevKeys.account(0), nonce: nonce, to: DevKeys.account(1).address, amount: 10)
            _ = try await rpc.call(RollupMethod.sendTransaction, [hexParam(tx)])
            last = tx.id
        }
        let id = last
        #expect(try await eventually(30) { try await rpc.call(RollupMethod.getReceipt, [.string(id.hex)]) != .null })
        let datadir = dir.appending("alpha")
        // Read-only while the node runs.
        let live = try TributaryBinary.run(["db", "verify", "--datadir", datadir, "--genesis", devnetGenesis])
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.output.hasPrefix("ok: alpha"))
        #expect(node.stop() == 0)

        let stats = try TributaryBinary.run(["db", "stats", "--datadir", datadir, "--json"])
        let json = try JSONValue.parse(Data(stats.stdout))
        guard case .object(let tables)? = json["tables"] else {
            Issue.record("no tables in \(stats.output)")
            return
        }
        let mdbStat = try Command.run("mdb_stat", ["-a", datadir]).output
        for (name, table) in tables {
            let section = try #require(mdbStat.range(of: "Status of \(name)\n"), "mdb_stat has no \(name)")
            let entries = mdbStat[section.upperBound...].split(separator: "\n").first { $0.contains("Entries:") }
            #expect(
                entries?.trimmingCharacters(in: .whitespaces) == "Entries: \(table["entries"]?.unsignedValue ?? 0)",
                "\(name)")
        }
        #expect(tables["tx_index"]?["entries"]?.unsignedValue == 3)

        // Tamper with the receipts of the block holding the last transfer: verify names it.
        let alpha = try #require(try Genesis.load(path: devnetGenesis).rollup(named: "alpha"))
        let store = try ChainStore(datadir: datadir, rollup: alpha, network: Network(try Genesis.load(path: devnetGenesis)))
        let height = try #require(try store.location(ofTransaction: id)).height
        try store.environment.write { (txn: WriteTransaction) throws in
            var receipts = try #require(try txn.get(Receipts.self, height))
            receipts.receipts[receipts.receipts.count - 1].feePaid += 1
            try txn.put(Receipts.self, height, receipts)
        }
        let tampered = try TributaryBinary.run(["db", "verify", "--datadir", datadir, "--genesis", devnetGenesis])
        #expect(tampered.status == 1)
        #expect(tampered.output.contains("block \(height) does not verify: receipts"), "\(tampered.output)")
        let notAStore = try TributaryBinary.run(["db", "stats", "--datadir", dir.path])
        #expect(notAStore.status != 0)
        #expect(notAStore.stderr.contains("not an LMDB store"))
    }
}
