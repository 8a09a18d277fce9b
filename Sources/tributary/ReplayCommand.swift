import ArgumentParser
import Chain
import Config
import Foundation
import Operator

/// `tributary replay`: re-execute a rollup from genesis or a snapshot, checking every header.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-execute every posted block into a new store, checking every header; stop at the first mismatch.",
        discussion:
            "Blocks come from the L1's DA blobs (--source l1 --l1 URL) or another store's batches (--source store --store DIR). Progress (blocks/s, txs/s, ETA) is drawn on a terminal, printed as plain lines otherwise."
    )

    enum Source: String, ExpressibleByArgument { case l1, store }

    @Option(help: "The new data directory to replay into.") var datadir: String
    @Flag(help: "Start from the genesis block.") var fromGenesis = false
    @Option(help: "Start from this snapshot (restored into --datadir).") var fromSnapshot: String?
    @Option(help: "l1 or store.") var source: Source
    @Option(help: "The L1's RPC URL (--source l1).") var l1: String?
    @Option(help: "The store whose batches to replay (--source store).") var store: String?
    @Option(help: "The rollup (--source l1 from genesis; otherwise found from the stores).") var rollup: String?
    @Option(help: "Stop after this height.") var to: UInt64?
    @Option(help: "The genesis file.") var genesis = "Genesis/devnet.json"
    @Flag(help: "No progress output.") var quiet = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard fromGenesis != (fromSnapshot != nil) else {
            throw ValidationError("give exactly one of --from-genesis and --from-snapshot FILE")
        }
        switch source {
        case .l1: if l1 == nil { throw ValidationError("--source l1 needs --l1 URL") }
        case .store: if store == nil { throw ValidationError("--source store needs --store DIR") }
        }
    }

    func run() async throws {
        var failed = false
        do {
            let genesis = try loadGenesis(self.genesis)
            let chain: ChainStore
            if let snapshot = fromSnapshot {
                _ = try Snapshot.restore(file: snapshot, datadir: datadir)
                chain = try Replayer.existingStore(datadir: datadir, genesis: genesis)
            } else {
                let parameters: RollupParameters
                if let store, source == .store {
                    parameters = try Replayer.rollup(ofStore: store, genesis: genesis)
                } else {
                    guard let name = rollup else {
                        throw OperatorError("--from-genesis --source l1 needs --rollup NAME")
                    }
                    guard
                        let found = genesis.rollup(named: name)
                            ?? UInt32(name).flatMap({ id in
                                genesis.rollups.first { $0.id.rawValue == id }
                            })
                    else { throw OperatorError("the genesis file has no rollup \(name)") }
                    parameters = found
                }
                chain = try Replayer.newStore(datadir: datadir, rollup: parameters, genesis: genesis)
            }
            let replaySource: ReplaySource = source == .l1 ? .l1(url: l1!) : .store(path: store!)
            let progress = Progress(enabled: !quiet && !json)
            let report = try await Replayer(store: chain, source: replaySource, to: to, progress: progress).run()
            failed = !report.ok
            print(json ? String(decoding: try report.json.serialized(), as: UTF8.self) : report.human)
        } catch let error as OperatorError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        if failed { throw ExitCode(1) }
    }
}
